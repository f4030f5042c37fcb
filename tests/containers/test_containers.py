"""Containers a download comes in: a SQL Server-style SFX update, an .msu, a Burn bundle, IExpress, plain PE."""
from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from msitools.testing.writer.cab import FileSpec, FolderSpec, build_cabinet
from msitools.testing.writer.exe import build_burn, build_iexpress, build_sfx

from conftest import FIXTURES, ROOT, load_script, require_tool

SQL = FIXTURES / "sqlcu" / "SQLServer2017-KB4515579-x64.exe"
SQL_TABLE = FIXTURES / "kb" / "real" / "sql2017-cu17-kb4515579.md"
SQL_SECTIONS = ["--section", "sql_dreplay_client", "--section", "sql_dreplay_controller"]
MSU = FIXTURES / "msu" / "Windows6.1-KB976398-x64.msu"
MSU_EXPRESS = FIXTURES / "msu" / "Windows6.1-KB976398-x64-express.msu"
MSU_TABLE = FIXTURES / "kb" / "real" / "win7-kb976398.md"
BURN = FIXTURES / "burn" / "FixtureBundle.exe"
BURN_TABLE = FIXTURES / "burn" / "table.md"


def _run(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "msitools", *map(str, args)], capture_output=True, text=True)


def _multiset(root: Path, skip_nested: bool = False) -> Counter:
    return Counter((p.stat().st_size, hashlib.sha256(p.read_bytes()).hexdigest()) for p in root.rglob("*")
                   if p.is_file() and not (skip_nested and ".extracted" in p.as_posix()))


def test_the_replicas_are_what_the_script_builds(tmp_path):
    built = load_script("build_containers").build(tmp_path)
    for rel, data in built.items():
        assert (FIXTURES / rel).read_bytes() == data, rel


# -- verify end to end -------------------------------------------------------------------------------
def test_the_sql_update_passes_the_two_published_sections():
    proc = _run("verify", SQL, "--kb", SQL_TABLE, *SQL_SECTIONS, "--format", "json")
    assert proc.returncode == 0, proc.stdout[-2000:]
    report = json.loads(proc.stdout)
    assert report["summary"]["pass"] == 14 and report["unlisted"] == []
    # repeated names (Dreplaycommon.dll in both features) are answered by the copy in each feature's patch
    patches = {r["found_in"][2] for r in report["rows"] if r["name"] == "Dreplaycommon.dll"}
    assert patches == {"x64\\sql_dreplay_client.msp", "x64\\sql_dreplay_controller.msp"}


@pytest.mark.parametrize("name,status", [("size-off", "mismatch"), ("version-off-by-one", "mismatch"),
                                         ("x64-in-x86-slot", "mismatch"), ("missing-file", "missing"),
                                         ("extra-file", "unlisted")])
def test_each_tampered_update_fails_with_its_finding(name, status):
    proc = _run("verify", FIXTURES / "sqlcu" / "tampered" / f"{name}.exe", "--kb", SQL_TABLE, *SQL_SECTIONS,
                "--format", "json")
    assert proc.returncode == 1
    report = json.loads(proc.stdout)
    if status == "unlisted":
        assert [u["name"] for u in report["unlisted"]] == ["ReadMe.txt"]
    else:
        assert [r["status"] for r in report["rows"] if r["status"] != "pass"] == [status]


def test_the_msu_passes_its_x64_sections_and_its_express_twin_is_unverified():
    ok = _run("verify", MSU, "--kb", MSU_TABLE, "--section", "x64", "--format", "json")
    assert ok.returncode == 0, ok.stdout[-1500:]
    report = json.loads(ok.stdout)
    dll = next(r for r in report["rows"] if r["name"] == "Gpprefcl.dll" and r["platform"] == "x64")
    assert dll["found_in"][-1].startswith("amd64_microsoft-windows-g..ppolicy-policymaker")
    express = json.loads(_run("verify", MSU_EXPRESS, "--kb", MSU_TABLE, "--section", "x64",
                              "--format", "json").stdout)
    assert {r["status"] for r in express["rows"] if r["name"] == "Gpprefcl.dll"} == {"unverified"}
    assert express["verdict"] == "fail"


def test_the_burn_bundle_passes_its_table():
    proc = _run("verify", BURN, "--kb", BURN_TABLE)
    assert proc.returncode == 0, proc.stdout


# -- info ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("path,kind", [(SQL, "sfx"), (MSU, "msu"), (BURN, "burn")], ids=["sfx", "msu", "burn"])
def test_info_names_the_container(path, kind):
    proc = _run("info", path, "--format", "json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["kind"] == kind


def test_a_plain_pe_is_a_pe_image(tmp_path):
    from msitools.testing.writer.pe import build_pe
    import datetime

    path = tmp_path / "tool.exe"
    path.write_bytes(build_pe("x64", "2.0.0.0", None, 8192, datetime.datetime(2020, 1, 1), False))
    proc = _run("info", path, "--format", "json")
    assert proc.returncode == 0
    data = json.loads(proc.stdout)
    assert data["kind"] == "pe" and data["containers"] == [] and data["pe"]["file_version"] == "2.0.0.0"


def test_an_iexpress_package_is_found_by_its_cabinet_resource(tmp_path):
    cab = build_cabinet([FolderSpec([FileSpec("setup.inf", b"[Version]\r\n"), FileSpec("tool.dll", b"x" * 300)],
                                    compression="mszip")])
    path = tmp_path / "iexpress.exe"
    path.write_bytes(build_iexpress(cab))
    data = json.loads(_run("info", path, "--format", "json").stdout)
    assert data["kind"] == "iexpress" and [m["name"] for m in data["members"]] == ["setup.inf", "tool.dll"]
    seven = require_tool("7zz")
    out = tmp_path / "theirs"
    subprocess.run([seven, "x", f"-o{out}", str(path)], capture_output=True)
    assert _run("extract", path, "-o", tmp_path / "ours").returncode == 0
    assert _multiset(tmp_path / "ours") == _multiset(out)


# -- extract against 7-Zip ----------------------------------------------------------------------------------
def test_the_sql_update_extracts_what_7zip_extracts(tmp_path):
    seven = require_tool("7zz")
    theirs = tmp_path / "theirs"
    subprocess.run([seven, "x", f"-o{theirs}", str(SQL)], check=True, capture_output=True)
    ours = tmp_path / "ours"
    assert _run("extract", "--recursive", SQL, "-o", ours).returncode == 0
    assert _multiset(ours, skip_nested=True) == _multiset(theirs)
    # inside each patch: 7-Zip reads the PCW_CAB stream, then that cabinet (members named by File key)
    for msp in sorted(theirs.rglob("*.msp")):
        streams = tmp_path / f"{msp.stem}-streams"
        subprocess.run([seven, "x", f"-o{streams}", str(msp)], check=True, capture_output=True)
        cab = next(p for p in streams.iterdir() if p.name.startswith("PCW_CAB"))
        members = tmp_path / f"{msp.stem}-members"
        subprocess.run([seven, "x", f"-o{members}", str(cab)], check=True, capture_output=True)
        assert _multiset(ours / "x64" / f"{msp.name}.extracted") == _multiset(members)


def test_the_msu_extracts_what_7zip_extracts(tmp_path):
    seven = require_tool("7zz")
    theirs = tmp_path / "theirs"
    subprocess.run([seven, "x", f"-o{theirs}", str(MSU)], check=True, capture_output=True)
    ours = tmp_path / "ours"
    assert _run("extract", "--recursive", MSU, "-o", ours).returncode == 0
    assert _multiset(ours, skip_nested=True) == _multiset(theirs)
    inner = tmp_path / "inner"
    subprocess.run([seven, "x", f"-o{inner}", str(theirs / "Windows6.1-KB976398-x64.cab")], check=True,
                   capture_output=True)
    assert _multiset(ours / "Windows6.1-KB976398-x64.cab.extracted") == _multiset(inner)


def test_7zip_reads_only_the_ux_container_of_a_burn_bundle(tmp_path):
    """7-Zip opens the first cabinet it finds after the stub (the UX container) and names its members by
    their raw names (0 is the manifest, u0 the bootstrapper application); it does not read the .wixburn
    section, so it never sees the attached container that holds the product."""
    seven = require_tool("7zz")
    theirs = tmp_path / "theirs"
    subprocess.run([seven, "x", f"-o{theirs}", str(BURN)], capture_output=True)
    assert sorted(p.name for p in theirs.iterdir()) == ["0", "u0"]
    ours = tmp_path / "ours"
    assert _run("extract", BURN, "-o", ours).returncode == 0
    assert sorted(p.name for p in ours.iterdir()) == ["FixtureProduct.msi", "WixStdBA.dll"]
    assert (ours / "WixStdBA.dll").read_bytes() == (theirs / "u0").read_bytes()


# -- other commands walk through containers -----------------------------------------------------------------
def test_review_files_and_sbom_descend_into_the_update():
    review = json.loads(_run("review", SQL, "--format", "json").stdout)
    assert review["kind"] == "sfx" and len(review["payload_signatures"]) >= 16
    assert {p["where"].rsplit(" > ", 1)[-1] for p in review["payload_signatures"]} >= {
        "x64\\sql_dreplay_client.msp", "x64\\sql_dreplay_controller.msp"}
    rows = json.loads(_run("files", SQL, "--hash", "sha256", "--recursive", "--format", "json").stdout)["files"]
    assert len(rows) == 2 + 2 + 14
    sbom = _run("sbom", SQL)
    assert sbom.returncode == 0, sbom.stderr


def test_signature_of_an_unsigned_update_exits_1():
    proc = _run("signature", SQL)
    assert proc.returncode == 1 and "unsigned" in proc.stdout.lower()


# -- hostile containers ----------------------------------------------------------------------------------------
def _one_line(proc: subprocess.CompletedProcess) -> str:
    lines = [line for line in proc.stderr.splitlines() if line.startswith("msitools: error:")]
    assert len(lines) == 1 and "Traceback" not in proc.stderr and "unexpected" not in proc.stderr, proc.stderr
    return lines[0]


def test_a_truncated_overlay_is_named_and_the_intact_members_still_come_out(tmp_path):
    cab = build_cabinet([FolderSpec([FileSpec("a.bin", b"a" * 40000), FileSpec("b.bin", bytes(range(256)) * 300)],
                                    compression="none")])
    path = tmp_path / "cut.exe"
    path.write_bytes(build_sfx([cab])[: -30000])
    proc = _run("extract", path, "-o", tmp_path / "out")
    assert proc.returncode == 1
    assert "claims" in _one_line(proc) or "truncated" in proc.stderr
    assert (tmp_path / "out" / "a.bin").read_bytes() == b"a" * 40000
    assert not (tmp_path / "out" / "b.bin").exists()


@pytest.mark.parametrize("damage", ["lfanew", "sections", "burn-count", "burn-missing"])
def test_hostile_headers_fail_closed_with_one_line(tmp_path, damage):
    import struct

    data = bytearray(build_burn([("ba.dll", b"BA")], [("p.msi", b"P" * 100)]))
    e_lfanew = struct.unpack_from("<I", data, 0x3C)[0]
    if damage == "lfanew":
        struct.pack_into("<I", data, 0x3C, 0x7FFFFFF0)
    elif damage == "sections":
        struct.pack_into("<H", data, e_lfanew + 6, 500)
    elif damage == "burn-count":
        at = data.find(struct.pack("<II", 0x00F14300, 2))
        struct.pack_into("<I", data, at + 44, 1_000_000)
    else:
        data = data[:-50]  # the attached container is cut off
    path = tmp_path / "bundle.exe"
    path.write_bytes(bytes(data))
    info = _run("info", path)
    if damage == "burn-missing":
        assert info.returncode == 0 and "is not in the file" in info.stdout
        extract = _run("extract", path, "-o", tmp_path / "out")
        assert extract.returncode == 1 and "is not in the file" in _one_line(extract)
    else:
        assert info.returncode == 2
        _one_line(info)
        assert _run("extract", path, "-o", tmp_path / "out").returncode == 2


def test_the_fuzz_harness_knows_the_container_target():
    text = (ROOT / "fuzz" / "targets.py").read_text() if (ROOT / "fuzz" / "targets.py").exists() else \
        "".join(p.read_text() for p in (ROOT / "fuzz").glob("*.py"))
    assert "inspect_exe" in text
