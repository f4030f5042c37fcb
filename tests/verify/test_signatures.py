"""Signatures decide the verdict, and every report says why it failed.

Packages here are signed by a throw-away test CA with osslsigncode (an independent tool)
and altered after signing in four ways: a summary property, a table cell (the string
data), an added stream, and a cabinet byte in a cabinet written without checksums (so
nothing but the signature can see it).
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from click.testing import CliRunner
from conftest import CORPUS, FIXTURES, corpus_file, require_tool
from signing import altered_crt_package, make_pki, sign

from msitools.cli import cli
from msitools.container.streamname import encode_stream_name
from msitools.db.package import open_package
from msitools.testing.writer.database import DatabaseBuilder
from msitools.testing.writer.package import PayloadFile, build_package

README = b"read me: the payload of the signature fixture\r\n" * 40
TABLE = ("|File name|File version|File size|Date|Time|Platform|\n|---|---|---|---|---|---|\n"
         f"|Readme.txt|Not applicable|{len(README):,}|01-Feb-2010|16:35|Not applicable|\n")


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    require_tool("osslsigncode")
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def work(tmp_path_factory, pki) -> dict:
    root = tmp_path_factory.mktemp("sig")
    built = build_package([PayloadFile("ProgramFilesFolder", "Readme.txt", README)], compression="none",
                          checksums=False, product_name="Signature fixture")
    assert isinstance(built.database, DatabaseBuilder)
    built.database.add_stream("Binary.Note", b"a stream the signature covers" * 8)
    plain = root / "plain.msi"
    built.write(plain)
    signed = sign(pki, plain, root / "signed.msi", certs="leaf.pem", key="leaf.key")
    table = root / "table.md"
    table.write_text(TABLE)
    return {"root": root, "plain": plain, "signed": signed, "table": table, "ca": pki["dir"] / "ca.pem"}


def _stream_offset(path: Path, stream: str, needle: bytes) -> int:
    """File offset of *needle* inside *stream* (stream contents are read back through the FAT)."""
    from malform import Cfb, stream_byte_offset

    with open_package(path) as pkg:
        info = pkg.find_stream(stream)
        data = pkg.read_stream(info.name) if info is not None else None
        if data is None:  # a table stream
            data = pkg.cfb.open_stream(pkg.cfb.root.child(encode_stream_name(stream, True))).read()
    pos = data.index(needle)
    raw = path.read_bytes()
    name = stream if stream.startswith("\x05") else encode_stream_name(stream, stream.startswith("_"))
    return stream_byte_offset(Cfb(raw), name, pos)


def _altered(work: dict, how: str) -> Path:
    signed: Path = work["signed"]
    raw = bytearray(signed.read_bytes())
    if how == "summary property":
        offset = _stream_offset(signed, "\x05SummaryInformation", b"Signature fixture")
    elif how == "table cell":
        offset = _stream_offset(signed, "_StringData", b"Signature fixture")
    elif how == "stream":
        offset = _stream_offset(signed, "Binary.Note", b"covers")
    else:  # a byte of the stored (uncompressed, unchecksummed) payload in the cabinet
        offset = _stream_offset(signed, "payload.cab", b"payload of the signature")
    raw[offset] ^= 0x01
    out = work["root"] / f"{how.replace(' ', '-')}.msi"
    out.write_bytes(bytes(raw))
    return out


def run(*args: object) -> "tuple[int, str]":
    result = CliRunner().invoke(cli, [str(a) for a in args])
    return result.exit_code, result.stdout + result.stderr


ALTERATIONS = ["summary property", "table cell", "stream", "cabinet byte"]


def test_osslsigncode_sees_our_fixture_signed_and_each_alteration_broken(work):
    tool = require_tool("osslsigncode")
    import subprocess

    ok = subprocess.run([tool, "verify", "-CAfile", str(work["ca"]), "-in", str(work["signed"])],
                        capture_output=True, text=True)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    for how in ALTERATIONS:
        bad = subprocess.run([tool, "verify", "-CAfile", str(work["ca"]), "-in", str(_altered(work, how))],
                             capture_output=True, text=True)
        assert bad.returncode != 0, how


def test_the_intact_signed_package_passes_without_options(work):
    code, out = run("verify", work["signed"], "--kb", work["table"])
    assert code == 0, out
    assert "chain not verifiable offline" in out or "chain NOT trusted" in out  # shown, not failing


@pytest.mark.parametrize("how", ALTERATIONS)
@pytest.mark.parametrize("fmt", ["text", "markdown", "html", "junit", "json"])
def test_a_package_altered_after_signing_fails_in_every_format(work, how, fmt):
    altered = _altered(work, how)
    code, out = run("verify", altered, "--kb", work["table"], "--format", fmt)
    assert code == 1, out
    name = altered.name
    if fmt == "json":
        report = json.loads(out)
        assert report["verdict"] == "fail"
        assert report["verdict_reasons"][0] == f"package altered after signing: {name}"
    elif fmt == "junit":
        suite = ET.fromstring(out)
        assert int(suite.get("failures")) >= 1
        failing = [c for c in suite.iter("testcase") if c.find("failure") is not None]
        assert any(c.get("classname").endswith(".signatures") and c.get("name") == name for c in failing)
    else:
        verdict = next(line for line in out.splitlines() if "Verdict: FAIL" in line)
        assert f"package altered after signing: {name}" in verdict


def test_required_signature_names_the_reason_in_every_format(work):
    for fmt in ("text", "markdown", "html"):
        code, out = run("verify", work["signed"], "--kb", work["table"], "--require-signature", "--format", fmt)
        assert code == 1
        assert "package signature chain not trusted" in out
    code, out = run("verify", work["signed"], "--kb", work["table"], "--require-signature", "--format", "junit")
    assert code == 1 and int(ET.fromstring(out).get("failures")) >= 1
    code, out = run("verify", work["signed"], "--kb", work["table"], "--require-signature", "--trust-store",
                    work["ca"], "--format", "json")
    assert code == 0, out  # trusted chain, intact, and the payload holds no executable
    code, out = run("verify", work["plain"], "--kb", work["table"], "--require-signature", "--format", "json")
    assert code == 1 and json.loads(out)["verdict_reasons"] == [f"unsigned package: {work['plain'].name}"]


def test_junit_failures_are_never_zero_when_the_run_fails(work):
    for args in ([], ["--require-signature"], ["--expect-signer", "O=Microsoft Corporation"]):
        code, out = run("verify", work["signed"], "--kb", work["table"], "--format", "junit", *args)
        failures = int(ET.fromstring(out).get("failures"))
        assert (code == 1) == (failures > 0), (args, code, failures)


def test_an_expected_signer_must_have_signed(work):
    code, out = run("verify", work["signed"], "--kb", work["table"], "--expect-signer", "O=Microsoft Corporation",
                    "--format", "json")
    assert code == 1
    assert re.match(r"package signed by .*msitools CA-issued MSI signer.*, not by O=Microsoft Corporation: signed.msi",
                    json.loads(out)["verdict_reasons"][0])
    code, _out = run("verify", work["signed"], "--kb", work["table"], "--expect-signer", "O=msitools tests")
    assert code == 0


def test_signature_exit_codes(work, tmp_path):
    assert run("signature", work["signed"])[0] == 1
    assert "UNTRUSTED (chain not trusted)" in run("signature", work["signed"])[1]
    assert run("signature", work["signed"], "--trust-store", work["ca"])[0] == 0
    assert run("signature", work["signed"], "--allow-untrusted")[0] == 0
    assert run("signature", _altered(work, "table cell"), "--trust-store", work["ca"])[0] == 1
    assert run("signature", work["plain"])[0] == 1
    junk = tmp_path / "junk.msi"
    junk.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100)
    assert run("signature", junk)[0] == 2


def test_real_signed_corpus_packages():
    putty = corpus_file("putty-0.68-installer.msi")
    code, out = run("signature", putty)
    assert code == 0 and out.startswith("OK:") and "SHA1 digest" in out  # a weakness, not a failure


def test_vcredist_dlls_are_catalog_signed():
    vcredist = corpus_file("vcredist.msi")
    code, out = run("verify", vcredist, "--kb", FIXTURES / "kb" / "kb2586709.md", "--format", "json")
    payload = json.loads(out)["payload_signatures"]
    msvcm = [p for p in payload if p["name"] == "msvcm80.dll" and p["status"] == "catalog_signed"]
    assert msvcm, [(p["name"], p["status"]) for p in payload if p["name"].endswith(".dll")]
    assert msvcm[0]["catalog"].startswith("x86_Microsoft.VC80.CRT_") and msvcm[0]["catalog"].endswith(".cat")
    assert "O=Microsoft Corporation" in msvcm[0]["signer"] and msvcm[0]["catalog_status"] == "signed_valid"
    dlls = [p for p in payload if p["name"].lower().endswith(".dll")]
    assert sum(p["status"] in ("catalog_signed", "signed_valid") for p in dlls) >= 20


def test_a_dll_changed_beside_its_signed_manifest_is_altered(tmp_path):
    """The real CRT assembly (catalog, manifest, DLLs) repackaged with one byte of msvcm80.dll changed."""
    if not CORPUS.is_dir():
        pytest.skip("../shared/corpus is not beside the project")
    pkg = altered_crt_package(corpus_file("vcredist.msi"), tmp_path)
    table = tmp_path / "none.md"
    table.write_text("|File name|File size|\n|---|---|\n|Nothing.txt|1|\n")
    code, text = run("verify", pkg, "--kb", table, "--allow-unlisted", "--format", "json")
    report = json.loads(text)
    by_name = {p["name"]: p for p in report["payload_signatures"]}
    assert by_name["msvcm80.dll"]["status"] == "catalog_altered"
    assert by_name["msvcr80.dll"]["status"] == "signed_valid"
    assert any(r.startswith("payload altered after signing: msvcm80.dll") for r in report["verdict_reasons"])


def test_a_signed_payload_image_altered_after_signing_fails_by_default(work, pki, tmp_path):
    """A PE image signed by osslsigncode, one byte of its code changed, delivered in an unsigned package."""
    import datetime as dt
    import subprocess

    from msitools.testing.writer.pe import build_pe

    image = build_pe("x86", "1.2.3.4", None, 24_576, dt.datetime(2020, 1, 1), True)
    (tmp_path / "tool.dll").write_bytes(image)
    subprocess.run([require_tool("osslsigncode"), "sign", "-certs", str(pki["dir"] / "leaf.pem"), "-key",
                    str(pki["dir"] / "leaf.key"), "-h", "sha256", "-in", str(tmp_path / "tool.dll"), "-out",
                    str(tmp_path / "signed.dll")], check=True, capture_output=True)
    signed = bytearray((tmp_path / "signed.dll").read_bytes())
    signed[0x400 + 16] ^= 0x01  # inside the first section, covered by the Authenticode digest
    built = build_package([PayloadFile("ProgramFilesFolder", "Tool.dll", bytes(signed), version="1.2.3.4")])
    pkg = tmp_path / "tool.msi"
    built.write(pkg)
    table = tmp_path / "tool.md"
    table.write_text("|File name|File version|File size|Platform|\n|---|---|---|---|\n"
                     f"|Tool.dll|1.2.3.4|{len(signed):,}|x86|\n")
    code, out = run("verify", pkg, "--kb", table, "--format", "json")
    report = json.loads(out)
    assert code == 1 and report["verdict_reasons"][0] == "payload altered after signing: Tool.dll"
    assert report["rows"][0]["status"] == "mismatch"
    assert report["rows"][0]["differences"][-1]["field"] == "signature"
