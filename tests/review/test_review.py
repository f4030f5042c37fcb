"""`msitools review`, `signature` and `verify --require-signature`.

The review fixture holds one custom action of every documented base type, each scheduled,
plus services, sensitive registry values and files into system folders; it is built here
with the project writer and checked with msidump (independent) before being reviewed.
"""
from __future__ import annotations

import datetime
import hashlib
import json
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from msitools.cli import cli
from msitools.testing.writer.package import SERVICE_INSTALL_COLUMNS, STANDARD_DIRECTORIES, PayloadFile, build_package
from msitools.testing.writer.pe import build_pe

from conftest import FIXTURES, corpus_file, require_tool

STAMP = datetime.datetime(2020, 1, 1)

# (action, type, source, target, expected kind)
CUSTOM_ACTIONS = [
    ("CaDllBinary", 1, "DllBin", "Entry", "dll"),
    ("CaExeBinary", 2, "ExeBin", "/quiet", "exe"),
    ("CaJsBinary", 5, "JsBin", "main", "jscript"),
    ("CaVbsBinary", 6, "VbsBin", "Main", "vbscript"),
    ("CaNested", 7, "child.msi", "", "concurrent-install"),
    ("CaDllFile", 17, "tool.dll", "Run", "dll"),
    ("CaExeFile", 18, "tool.exe", "/x", "exe"),
    ("CaError", 19, None, "Unsupported system", "error"),
    ("CaJsFile", 21, "script.js", "run", "jscript"),
    ("CaVbsFile", 22, "script.vbs", "Run", "vbscript"),
    ("CaNestedSource", 23, "sub\\child.msi", "", "concurrent-install"),
    ("CaExeDir", 34, "APP", "tool.exe /s", "exe"),
    ("CaSetDir", 35, "APP", "[ProgramFilesFolder]X", "set-directory"),
    ("CaJsInline", 37, None, "var a = 1;", "jscript"),
    ("CaVbsInline", 38, None, "MsgBox 1", "vbscript"),
    ("CaNestedAdv", 39, "{11111111-2222-3333-4444-555555555555}", "", "concurrent-install"),
    ("CaExeProp", 50, "TOOLPATH", "/run", "exe"),
    ("CaSetProp", 51, "MYPROP", "[SystemFolder]", "set-property"),
    ("CaJsProp", 53, "JSPROP", "", "jscript"),
    ("CaVbsProp", 54, "VBSPROP", "", "vbscript"),
    ("CaDeferredNoImp", 1 | 0x400 | 0x800, "DllBin", "Elevated", "dll"),
]
BINARIES = {"DllBin": build_pe(machine="x86", file_version="1.0.0.0", product_version="1.0.0.0", size=4096,
                               timestamp=STAMP, is_dll=True),
            "ExeBin": build_pe(machine="x64", file_version="1.0.0.0", product_version="1.0.0.0", size=4096,
                               timestamp=STAMP, is_dll=False),
            "JsBin": b"WScript.Echo('hi');\r\n", "VbsBin": b"Sub Main\r\nEnd Sub\r\n"}


def build_review_fixture(path: Path) -> Path:
    dirs = STANDARD_DIRECTORIES + [("APP", "ProgramFilesFolder", "app"), ("WindowsFolder", "TARGETDIR", "Win"),
                                   ("SystemFolder", "WindowsFolder", "System32")]
    built = build_package([PayloadFile("APP", "tool.exe", BINARIES["ExeBin"], key="tool.exe"),
                           PayloadFile("SystemFolder", "helper.dll", BINARIES["DllBin"], key="helper.dll"),
                           PayloadFile("APP", "readme.txt", b"text\r\n", key="readme.txt")], directories=dirs)
    db = built.database
    db.add_table("Binary", [("Name", "s72", True), ("Data", "v0", False)])
    for name, data in BINARIES.items():
        db.add_row("Binary", name, data)
    db.add_table("CustomAction", [("Action", "s72", True), ("Type", "i2", False), ("Source", "S72", False),
                                  ("Target", "S255", False)])
    db.add_table("InstallExecuteSequence", [("Action", "s72", True), ("Condition", "S255", False),
                                            ("Sequence", "I2", False)])
    for n, (action, type_, source, target, _) in enumerate(CUSTOM_ACTIONS):
        db.add_row("CustomAction", action, type_, source, target or None)
        db.add_row("InstallExecuteSequence", action, "NOT Installed" if n % 2 else None, 3000 + n)
    db.add_table("ServiceInstall", SERVICE_INSTALL_COLUMNS)
    db.add_row("ServiceInstall", "Svc", "FixtureSvc", "Fixture Service", 16, 2, 1, None, None, None, None,
               "-service", "tool.exe", "A service")
    db.add_table("ServiceControl", [("ServiceControl", "s72", True), ("Name", "l255", False), ("Event", "i2", False),
                                    ("Arguments", "S255", False), ("Wait", "I2", False),
                                    ("Component_", "s72", False)])
    db.add_row("ServiceControl", "SvcCtl", "FixtureSvc", 0x1 | 0x2 | 0x80, None, 1, "tool.exe")
    db.add_table("Registry", [("Registry", "s72", True), ("Root", "i2", False), ("Key", "l255", False),
                              ("Name", "L255", False), ("Value", "L0", False), ("Component_", "s72", False)])
    db.add_row("Registry", "RunKey", 2, "Software\\Microsoft\\Windows\\CurrentVersion\\Run", "Fixture",
               "[APP]tool.exe", "tool.exe")
    db.add_row("Registry", "Policy", 2, "SOFTWARE\\Policies\\Fixture", "Enabled", "#1", "tool.exe")
    db.add_row("Registry", "Plain", 1, "Software\\Fixture", "Version", "1.0", "tool.exe")
    db.write(path)
    return path


@pytest.fixture(scope="module")
def review_fixture(tmp_path_factory) -> Path:
    return build_review_fixture(tmp_path_factory.mktemp("review") / "review.msi")


def test_fixture_is_read_by_msidump(review_fixture, tmp_path):
    msidump = require_tool("msidump")
    subprocess.run([msidump, "-t", "-d", str(tmp_path), str(review_fixture)], check=True, capture_output=True,
                   cwd=tmp_path)
    text = (tmp_path / "CustomAction.idt").read_text()
    for action, *_ in CUSTOM_ACTIONS:
        assert action in text


@pytest.fixture(scope="module")
def review_report(review_fixture):
    result = CliRunner().invoke(cli, ["review", str(review_fixture), "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


@pytest.mark.parametrize("action,type_,source,target,kind", CUSTOM_ACTIONS, ids=[c[0] for c in CUSTOM_ACTIONS])
def test_every_custom_action_type_is_decoded(review_report, action, type_, source, target, kind):
    ca = next(c for c in review_report["custom_actions"] if c["action"] == action)
    assert ca["kind"] == kind
    assert ca["type"] == type_ and ca["source"] == source and ca["target"] == (target or None)
    assert ca["scheduled"] and ca["scheduled"][0]["table"] == "InstallExecuteSequence"
    if type_ & 0x3F in (1, 2, 5, 6):
        assert ca["embedded"]["sha256"] == hashlib.sha256(BINARIES[source]).hexdigest()
        if type_ & 0x3F in (1, 2):
            assert ca["embedded"]["signature"]["status"] == "unsigned"
    if type_ in (37, 38):
        assert ca["script_sha256"] == hashlib.sha256(target.encode()).hexdigest()
    if action == "CaDeferredNoImp":
        assert ca["execution"] == "deferred" and "runs without impersonation" in ca["capabilities"]


def test_services_registry_and_system_files(review_report):
    services = review_report["services"]
    assert services["installed"][0]["service"] == "FixtureSvc" and services["installed"][0]["start"] == "automatic"
    assert services["controlled"][0]["events"] == ["start on install", "stop on install", "delete on uninstall"]
    keys = {r["registry"]: r["why"] for r in review_report["registry"]}
    assert keys == {"RunKey": ["autostart (Run/RunOnce)"], "Policy": ["policies"]}
    assert [(f["name"], f["system_folder"]) for f in review_report["system_files"]] == [("helper.dll", "SystemFolder")]
    assert {p["file"].rsplit("\\", 1)[-1]: p["status"] for p in review_report["payload_signatures"]} == \
        {"tool.exe": "unsigned", "helper.dll": "unsigned"}
    assert review_report["signatures"][0]["signed"] is False


def test_review_text_and_markdown(review_fixture):
    text = CliRunner().invoke(cli, ["review", str(review_fixture)]).output
    assert "CaVbsInline" in text and "autostart" in text and "FixtureSvc" in text
    md = CliRunner().invoke(cli, ["review", str(review_fixture), "--format", "markdown"]).output
    assert md.startswith("# Security review") and "## Custom actions (21, most serious first)" in md


def test_review_of_corpus_packages_lists_every_custom_action(corpus):
    from msitools import open_package

    for name in ("putty-0.68-installer.msi", "vcredist.msi"):
        path = corpus(name)
        with open_package(path) as pkg:
            expected = {r["Action"] for r in pkg.table("CustomAction").records()}
        report = json.loads(CliRunner().invoke(cli, ["review", str(path), "--format", "json"]).output)
        assert {c["action"] for c in report["custom_actions"]} == expected
        assert report["signatures"][0]["signed"] and report["signatures"][0]["digest_matches"]


def test_review_of_a_patch_is_limited_to_what_it_changes():
    patches = FIXTURES / "patches"
    report = json.loads(CliRunner().invoke(cli, ["review", str(patches / "base.msi"), "--patch",
                                                 str(patches / "whole.msp"), "--format", "json"]).output)
    assert report["scope"].startswith("changes")
    assert {p["file"].rsplit("\\", 1)[-1] for p in report["payload_signatures"]} == {"core.dll", "plugin.dll"}
    assert report["custom_actions"] == []  # the base's custom action is unchanged by the patch
    standalone = json.loads(CliRunner().invoke(cli, ["review", str(patches / "whole.msp"), "--format", "json"]).output)
    assert standalone["kind"] == "msp" and {p["file"] for p in standalone["payload_signatures"]} == {"core.dll",
                                                                                                  "plugin.dll"}


def test_signature_command_exit_codes(tmp_path):
    ok = CliRunner().invoke(cli, ["signature", str(corpus_file("WPF2_32.msp")), "--format", "json"])
    assert ok.exit_code == 0
    data = json.loads(ok.output)
    assert data["signed"] and data["digest_matches"] and data["computed_digest"] == data["signed_digest"]
    assert set(data) >= {"signed", "digest_algorithm", "signed_digest", "computed_digest", "digest_matches",
                         "ex_present", "signer", "chain", "timestamp", "trusted", "reason"}
    unsigned = CliRunner().invoke(cli, ["signature", str(FIXTURES / "wixl" / "hello.msi")])
    assert unsigned.exit_code == 1 and "unsigned" in unsigned.output
    bad = CliRunner().invoke(cli, ["signature", str(FIXTURES / "kb2586709" / "kb2586709.txt")])
    assert bad.exit_code == 2


def test_verify_require_signature(tmp_path):
    replica = FIXTURES / "kb2586709"
    plain = CliRunner().invoke(cli, ["verify", str(replica / "SCCM2007-SP2-2586709-X86-ENU.msi"), "--kb",
                                     str(replica / "kb2586709.csv"), "--format", "json", "--require-signature"])
    assert plain.exit_code == 1
    report = json.loads(plain.output)
    assert report["signature_findings"] and all(r["status"] == "mismatch" for r in report["rows"])
    assert {d["field"] for r in report["rows"] for d in r["differences"]} == {"signature"}
    table = tmp_path / "putty.csv"
    table.write_text('File name,File version,File size,Date,Time,Platform\n'
                     'putty.exe,0.68.0.0,"713,592",18-Feb-2017,17:14,x86\n')
    signed = CliRunner().invoke(cli, ["verify", str(corpus_file("putty-0.68-installer.msi")), "--kb", str(table),
                                      "--allow-unlisted", "--require-signature", "--format", "json"])
    assert signed.exit_code == 0, signed.output
    row = json.loads(signed.output)["rows"][0]
    assert row["signature"]["status"] == "signed_valid"
