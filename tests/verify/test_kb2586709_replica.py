"""The flagship: the KB 2586709 hotfix replica verifies, and each tampered copy fails with its finding.

The replica is built by scripts/build_kb2586709.py from the published table only;
regenerating it must give the same bytes.  Independent readers (msiinfo, cabextract)
check what our writer produced.
"""
from __future__ import annotations

import json
import subprocess

import pytest
from click.testing import CliRunner

from msitools import open_package
from msitools.cli import cli
from msitools.kb import parse_file

from conftest import FIXTURES, KB_DIR, load_script, require_tool

REPLICA = FIXTURES / "kb2586709"
HOTFIX = REPLICA / "SCCM2007-SP2-2586709-X86-ENU.msi"
MSP = REPLICA / "Sccm2007ac-sp2-kb2586709-x86-enu.msp"
TABLES = ["kb2586709.txt", "kb2586709.html", "kb2586709.csv"]


def load_builder():
    return load_script("build_kb2586709")


def test_regenerating_gives_the_same_bytes(tmp_path):
    built = load_builder().build(tmp_path)
    assert sorted(built) == sorted(p.relative_to(REPLICA).as_posix() for p in REPLICA.rglob("*") if p.is_file())
    for rel, data in built.items():
        assert (REPLICA / rel).read_bytes() == data, f"{rel} differs from what the build script makes"


def test_replica_table_is_the_published_table():
    shared = KB_DIR / "kb2586709.txt"
    if not shared.exists():
        pytest.skip("../shared/kb/kb2586709.txt not found")
    ours = [r.to_dict() for r in parse_file(REPLICA / "kb2586709.txt").rows]
    published = [r.to_dict() for r in parse_file(shared).rows]
    strip = lambda rows: [{k: v for k, v in r.items() if k != "line"} for r in rows]  # noqa: E731
    assert strip(ours) == strip(published)


@pytest.mark.parametrize("table", TABLES)
def test_hotfix_passes_all_nine_rows(table):
    result = CliRunner().invoke(cli, ["verify", str(HOTFIX), "--kb", str(REPLICA / table), "--format", "json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["verdict"] == "pass"
    assert [r["status"] for r in report["rows"]] == ["pass"] * 9
    assert report["unlisted"] == []
    tscore_x64 = report["rows"][6]
    assert tscore_x64["found_in"][:2] == ["SCCM2007-SP2-2586709-X86-ENU.msi", "hotfix.cab"]
    assert tscore_x64["found_in"][2] == MSP.name and tscore_x64["found_in"][-1] == "Tscore.dll"
    assert tscore_x64["actual"]["machine"] == "0x8664" and len(tscore_x64["sha256"]) == 64


def expected_findings():
    return json.loads((REPLICA / "tampered" / "README.json").read_text())


TAMPERED = {
    "version-off-by-one": ("Tscore.dll", "x86", "mismatch", {"version (PE resource)", "version (File table)"}),
    "size-off": ("Tsmanager.exe", "x64", "mismatch", {"size (bytes)", "size (File table)"}),
    "x64-in-x86-slot": ("Tscore.dll", "x86", "mismatch", {"platform", "size (bytes)", "size (File table)"}),
    "missing-file": ("Pxe.msi", "Not Applicable", "missing", set()),
    "file-table-disagrees": ("Tsmbootstrap.exe", "x86", "mismatch", {"version (PE resource)"}),
    "extra-file": (None, None, None, None),
}


@pytest.mark.parametrize("name", sorted(TAMPERED))
def test_each_tampered_hotfix_fails_with_its_finding(name):
    assert name in expected_findings()
    result = CliRunner().invoke(cli, ["verify", str(REPLICA / "tampered" / f"{name}.msi"), "--kb",
                                      str(REPLICA / "kb2586709.txt"), "--format", "json"])
    assert result.exit_code == 1, result.output
    report = json.loads(result.output)
    assert report["verdict"] == "fail"
    failing = [r for r in report["rows"] if r["status"] != "pass"]
    file_name, platform, status, fields = TAMPERED[name]
    if name == "extra-file":
        assert failing == []
        assert [u["name"] for u in report["unlisted"]] == ["ReadMe.txt"]
        allowed = CliRunner().invoke(cli, ["verify", str(REPLICA / "tampered" / f"{name}.msi"), "--kb",
                                           str(REPLICA / "kb2586709.txt"), "--allow-unlisted"])
        assert allowed.exit_code == 0
        return
    assert report["unlisted"] == []
    assert len(failing) == 1
    row = failing[0]
    assert (row["name"], row["platform"], row["status"]) == (file_name, platform, status)
    assert {d["field"] for d in row["differences"]} == fields


@pytest.mark.parametrize("fmt,marker", [("text", "Verdict: PASS"), ("markdown", "# PASS: SCCM2007-SP2-2586709-X86-ENU.msi"),
                                        ("html", "<!DOCTYPE html>"), ("junit", "<testsuite")])
def test_report_formats(fmt, marker, tmp_path):
    out = tmp_path / f"report.{fmt}"
    result = CliRunner().invoke(cli, ["verify", str(HOTFIX), "--kb", str(REPLICA / "kb2586709.csv"), "--format", fmt,
                                      "-o", str(out)])
    assert result.exit_code == 0
    text = out.read_text()
    assert marker in text
    if fmt == "junit":
        from xml.etree import ElementTree as ET

        suite = ET.fromstring(text)
        assert suite.get("name") == HOTFIX.name  # one suite per hotfix, named after it
        assert suite.get("tests") == "9" and suite.get("failures") == "0"
        assert len(suite.findall("testcase")) == 9


def test_junit_reports_failures(tmp_path):
    from xml.etree import ElementTree as ET

    result = CliRunner().invoke(cli, ["verify", str(REPLICA / "tampered" / "size-off.msi"), "--kb",
                                      str(REPLICA / "kb2586709.txt"), "--format", "junit"])
    suite = ET.fromstring(result.output)
    failures = [c for c in suite.findall("testcase") if c.find("failure") is not None]
    assert [c.get("name") for c in failures] == ["Tsmanager.exe (x64)"]


def test_independent_readers_accept_the_replica(tmp_path):
    msiinfo = require_tool("msiinfo")
    cabextract = require_tool("cabextract")
    for path in [HOTFIX, REPLICA / "sccm2007sp2-siteserver.msi", MSP]:
        out = subprocess.run([msiinfo, "suminfo", str(path)], capture_output=True, text=True, check=True).stdout
        assert "Template" in out or "Title" in out
    cab = tmp_path / "hotfix.cab"
    cab.write_bytes(subprocess.run([msiinfo, "extract", str(HOTFIX), "hotfix.cab"], capture_output=True,
                                   check=True).stdout)
    listing = subprocess.run([cabextract, "-l", str(cab)], capture_output=True, text=True, check=True).stdout
    for name, size in [("Mcs.msi", 7280640), ("Pxe.msi", 5761024), (MSP.name, 904192)]:
        assert f"{size:>11} |" in listing.replace("  ", "  ") or str(size) in listing
        assert name in listing
    assert MSP.stat().st_size == 904192
    with open_package(MSP) as pkg:
        assert pkg.kind == "msp"
