"""`review` of everything a package delivers: nested packages, damaged parts, transforms, every section."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from msitools.testing.writer.package import STANDARD_DIRECTORIES, PayloadFile, build_package
from msitools.testing.writer.pe import build_pe

from conftest import FIXTURES, require_tool
from review.test_review import BINARIES, STAMP, build_review_fixture

KB = FIXTURES / "kb2586709"
HOTFIX = KB / "SCCM2007-SP2-2586709-X86-ENU.msi"
MSP = "Sccm2007ac-sp2-kb2586709-x86-enu.msp"


def _review(*args) -> tuple[int, dict]:
    proc = subprocess.run([sys.executable, "-m", "msitools", "review", *map(str, args), "--format", "json"],
                          capture_output=True, text=True)
    assert "Traceback" not in proc.stderr
    return proc.returncode, (json.loads(proc.stdout) if proc.stdout else {})


def test_the_replica_is_reviewed_down_to_the_patch_files_and_every_custom_action():
    code, report = _review(HOTFIX)
    assert code == 0
    inside_patch = f"{HOTFIX.name} > hotfix.cab > {MSP}"
    from collections import Counter

    files = Counter((p["file"], p["status"], p["where"]) for p in report["payload_signatures"])
    assert files == Counter({(name, "unsigned", inside_patch): 2  # the x86 and the x64 image
                             for name in ("Tscore.dll", "Tsmanager.exe", "Tsmbootstrap.exe")})
    assert all(p["status"] == "unsigned" and p["where"] == inside_patch for p in report["payload_signatures"])
    where = {ca["action"]: ca["where"] for ca in report["custom_actions"]}
    assert where == {"McsConfigureSite": f"{HOTFIX.name} > hotfix.cab > Mcs.msi",
                     "SetMcsPort": f"{HOTFIX.name} > hotfix.cab > Mcs.msi",
                     "PxeRegisterService": f"{HOTFIX.name} > hotfix.cab > Pxe.msi",
                     "SetPxeRoot": f"{HOTFIX.name} > hotfix.cab > Pxe.msi",
                     "KB2586709UpdateWinPE": inside_patch, "SetKB2586709": inside_patch}
    # most serious first: the three that run code as SYSTEM, then the setters
    assert [ca["as_system"] for ca in report["custom_actions"]] == [True, True, True, False, False, False]
    assert report["summary"]["packages"] == 4 and report["summary"]["counts"]["as_system"] == 3
    assert {s["package"] for s in report["signatures"]} == {HOTFIX.name, f"{HOTFIX.name} > hotfix.cab > Mcs.msi",
                                                          f"{HOTFIX.name} > hotfix.cab > Pxe.msi", inside_patch}


def test_text_says_runs_as_system_and_where():
    proc = subprocess.run([sys.executable, "-m", "msitools", "review", str(HOTFIX)], capture_output=True, text=True)
    assert proc.returncode == 0
    line = next(x for x in proc.stdout.splitlines() if "McsConfigureSite" in x)
    assert "runs as SYSTEM (no impersonation)" in line and "deferred" in line and "Mcs.msi" in line
    assert proc.stdout.index("McsConfigureSite") < proc.stdout.index("SetMcsPort")


def test_depth_limits_how_far_the_review_descends():
    code, report = _review(HOTFIX, "--depth", "0")
    assert code == 0
    assert report["summary"]["packages"] == 1 and report["custom_actions"] == []
    assert {s["where"].rsplit(" > ", 1)[-1] for s in report["skipped"]} == {"Mcs.msi", "Pxe.msi", MSP}


def test_a_corrupted_cabinet_still_gets_its_signature_and_custom_actions_reviewed(tmp_path):
    path = build_review_fixture(tmp_path / "review.msi")
    data = bytearray(path.read_bytes())
    at = data.find(b"MSCF")
    assert at > 0
    data[at + 400] ^= 0x01  # one flipped bit inside the first data block of the embedded cabinet
    path.write_bytes(bytes(data))
    code, report = _review(path)
    assert code == 1
    assert report["signatures"][0]["signed"] is False
    assert len(report["custom_actions"]) == 21
    assert report["unreadable"] and any("checksum" in u["reason"] for u in report["unreadable"])
    assert any(p["status"] == "unreadable" for p in report["payload_signatures"])
    text = subprocess.run([sys.executable, "-m", "msitools", "review", str(path)], capture_output=True, text=True)
    assert text.returncode == 1 and "Unreadable (" in text.stdout and "NEEDS ATTENTION" in text.stdout


def test_a_file_that_is_no_package_is_exit_2(tmp_path):
    junk = tmp_path / "junk.msi"
    junk.write_bytes(b"not a package at all" * 100)
    proc = subprocess.run([sys.executable, "-m", "msitools", "review", str(junk)], capture_output=True, text=True)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1


def test_a_transform_that_adds_a_system_wide_path_entry_is_reported():
    patches = FIXTURES / "patches"
    code, report = _review(patches / "base.msi", "--transform", patches / "change.mst")
    assert code == 0
    path = next(e for e in report["environment"] if e["name"] == "PATH")
    assert path["system_wide"] and path["@op"] == "insert" and "appended to the current value" in path["how"]
    assert any(b["name"] == "FixtureBlob" for b in report["binaries"])


def _coverage_fixture(path: Path) -> Path:
    dirs = STANDARD_DIRECTORIES + [("APP", "ProgramFilesFolder", "app"), ("ProgramMenuFolder", "TARGETDIR", "."),
                                   ("WindowsFolder", "TARGETDIR", "Win")]
    built = build_package([PayloadFile("APP", "tool.exe", BINARIES["ExeBin"], key="tool.exe")], directories=dirs)
    db = built.database
    db.add_table("Environment", [("Environment", "s72", True), ("Name", "l255", False), ("Value", "L255", False),
                                 ("Component_", "s72", False)])
    db.add_row("Environment", "EnvPath", "=-*PATH", "[~];[APP]", "tool.exe")
    db.add_row("Environment", "EnvUser", "+TOOL_HOME", "[APP]", "tool.exe")
    db.add_table("Upgrade", [("UpgradeCode", "s38", True), ("VersionMin", "S20", True), ("VersionMax", "S20", True),
                             ("Language", "S255", True), ("Attributes", "i4", True), ("Remove", "S255", False),
                             ("ActionProperty", "s72", False)])
    db.add_row("Upgrade", "{11111111-2222-3333-4444-0000000000FF}", None, "1.0.0.0", None, 0x100, None, "OLDERFOUND")
    db.add_row("Upgrade", "{99999999-2222-3333-4444-0000000000FF}", "2.0.0.0", None, None, 0x2, None, "NEWERFOUND")
    db.add_table("InstallExecuteSequence", [("Action", "s72", True), ("Condition", "S255", False),
                                            ("Sequence", "I2", False)])
    db.add_row("InstallExecuteSequence", "RemoveExistingProducts", None, 1450)
    db.add_table("Shortcut", [("Shortcut", "s72", True), ("Directory_", "s72", False), ("Name", "l128", False),
                              ("Component_", "s72", False), ("Target", "s72", False), ("Arguments", "S255", False)])
    db.add_row("Shortcut", "ToolLnk", "ProgramMenuFolder", "TOOL|Tool.lnk", "tool.exe", "[#tool.exe]", "--start")
    db.add_table("IniFile", [("IniFile", "s72", True), ("FileName", "l255", False), ("DirProperty", "S72", False),
                             ("Section", "l96", False), ("Key", "l128", False), ("Value", "l255", False),
                             ("Action", "i2", False), ("Component_", "s72", False)])
    db.add_row("IniFile", "Ini1", "tool.ini", "WindowsFolder", "Startup", "Run", "[APP]tool.exe", 0, "tool.exe")
    db.add_table("LockPermissions", [("LockObject", "s72", True), ("Table", "s32", True), ("Domain", "S255", True),
                                     ("User", "s255", True), ("Permission", "I4", False)])
    db.add_row("LockPermissions", "tool.exe", "File", None, "Everyone", 0x10000000)
    db.add_table("MsiLockPermissionsEx", [("MsiLockPermissionsEx", "s72", True), ("LockObject", "s72", False),
                                          ("Table", "s32", False), ("SDDL", "s0", False), ("Condition", "S255", False)])
    db.add_row("MsiLockPermissionsEx", "Lock1", "APP", "CreateFolder", "D:(A;;GA;;;WD)", None)
    db.add_table("MsiServiceConfigFailureActions", [
        ("MsiServiceConfigFailureActions", "s72", True), ("Name", "s255", False), ("Event", "i2", False),
        ("ResetPeriod", "I4", False), ("RebootMessage", "L255", False), ("Command", "L255", False),
        ("Actions", "S255", False), ("DelayActions", "S255", False), ("Component_", "s72", False)])
    db.add_row("MsiServiceConfigFailureActions", "Fail1", "FixtureSvc", 1, 86400, None, "[APP]tool.exe --recover",
               "1", "1000", "tool.exe")
    db.add_table("Binary", [("Name", "s72", True), ("Data", "v0", False)])
    db.add_row("Binary", "Orphan", build_pe(machine="x86", file_version="1.0.0.0", product_version="1.0.0.0",
                                            size=4096, timestamp=STAMP, is_dll=True))
    db.add_row("Binary", "Script", b"Sub Main\r\nEnd Sub\r\n")
    db.add_row("Property", "ALLUSERS", "1")
    db.add_row("Property", "SecureCustomProperties", "OLDERFOUND;NEWERFOUND")
    db.add_row("Property", "REBOOT", "ReallySuppress")
    db.write(path)
    return path


@pytest.fixture(scope="module")
def coverage(tmp_path_factory) -> tuple[Path, dict]:
    path = _coverage_fixture(tmp_path_factory.mktemp("coverage") / "coverage.msi")
    code, report = _review(path)
    assert code == 0
    return path, report


def test_the_coverage_fixture_is_read_by_msidump(coverage, tmp_path):
    msidump = require_tool("msidump")
    path, _report = coverage
    subprocess.run([msidump, "-t", "-d", str(tmp_path), str(path)], check=True, capture_output=True, cwd=tmp_path)
    for table in ("Environment", "Upgrade", "Shortcut", "IniFile", "LockPermissions", "MsiLockPermissionsEx",
                  "MsiServiceConfigFailureActions", "Binary"):
        assert (tmp_path / f"{table}.idt").exists(), table


def test_every_section_is_reported(coverage):
    path, r = coverage
    env = {e["name"]: e for e in r["environment"]}
    assert env["PATH"]["system_wide"] and "removed on uninstall" in env["PATH"]["how"]
    assert not env["TOOL_HOME"]["system_wide"] and "set only if absent" in env["TOOL_HOME"]["how"]
    rows = {u["action_property"]: u for u in r["upgrades"]["rows"]}
    assert rows["OLDERFOUND"]["removes"] and not rows["NEWERFOUND"]["removes"]
    assert r["upgrades"]["remove_existing_products"][0]["sequence"] == 1450
    assert r["shortcuts"][0]["path"].endswith("Tool.lnk") and r["shortcuts"][0]["arguments"] == "--start"
    assert r["ini_files"][0]["file"].endswith("Win\\tool.ini") and r["ini_files"][0]["action"] == "add line"
    assert {p["table"] for p in r["permissions"]} == {"LockPermissions", "MsiLockPermissionsEx"}
    assert r["services"]["configured"][0]["command"] == "[APP]tool.exe --recover"
    assert {p["property"] for p in r["properties"]} == {"ALLUSERS", "SecureCustomProperties", "REBOOT"}
    binaries = {b["name"]: b for b in r["binaries"]}
    assert binaries["Orphan"]["kind"] == "PE image" and binaries["Orphan"]["used_by"] == []
    assert binaries["Script"]["kind"] == "script"
    assert binaries["Orphan"]["dump"] == f"msitools stream {path} Binary.Orphan -o Orphan.bin"
    counts = r["summary"]["counts"]
    assert counts["environment"] == 2 and counts["binaries"] == 2 and counts["shortcuts"] == 1


def test_the_dump_command_gives_the_bytes(coverage, tmp_path):
    path, r = coverage
    orphan = next(b for b in r["binaries"] if b["name"] == "Orphan")
    out = tmp_path / "Orphan.bin"
    proc = subprocess.run([sys.executable, "-m", "msitools", "stream", str(path), "Binary.Orphan", "-o", str(out)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    import hashlib

    assert hashlib.sha256(out.read_bytes()).hexdigest() == orphan["sha256"]


def test_system_files_show_install_paths(tmp_path):
    path = build_review_fixture(tmp_path / "review.msi")
    _code, report = _review(path)
    assert report["system_files"][0]["path"] == "SourceDir\\Win\\System32\\helper.dll"


@pytest.mark.parametrize("fmt,marker", [("markdown", "## Custom actions"), ("html", "<!DOCTYPE html>")])
def test_review_formats(tmp_path, fmt, marker):
    out = tmp_path / f"review.{'md' if fmt == 'markdown' else fmt}"
    proc = subprocess.run([sys.executable, "-m", "msitools", "review", str(HOTFIX), "-o", str(out)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert marker in out.read_text() and "McsConfigureSite" in out.read_text()
