"""Verifying against a real article: picking its sections and platforms, and helpful errors."""
from __future__ import annotations

import json

from click.testing import CliRunner
from conftest import FIXTURES

from msitools.cli import cli

KB = FIXTURES / "kb2586709"
HOTFIX = KB / "SCCM2007-SP2-2586709-X86-ENU.msi"
WITH_IA64 = FIXTURES / "kb" / "kb2586709-ia64.md"


def run(*args: str) -> "tuple[int, dict | str]":
    result = CliRunner().invoke(cli, ["verify", *args])
    try:
        return result.exit_code, json.loads(result.stdout)
    except ValueError:
        return result.exit_code, result.stderr or result.stdout


def test_platforms_select_the_rows_of_this_download():
    code, report = run(str(HOTFIX), "--kb", str(WITH_IA64), "--platform", "x86", "--platform", "x64",
                       "--format", "json")
    assert code == 0 and report["verdict"] == "pass" and report["summary"]["pass"] == 9


def test_without_a_platform_the_ia64_rows_are_missing_and_named():
    code, report = run(str(HOTFIX), "--kb", str(WITH_IA64), "--format", "json")
    assert code == 1 and report["verdict"] == "fail"
    missing = [(r["name"], r["platform"], r["section"]) for r in report["rows"] if r["status"] == "missing"]
    assert missing == [(n, "IA-64", "For all supported IA-64-based versions")
                       for n in ("Tscore.dll", "Tsmanager.exe", "Tsmbootstrap.exe")]


def test_a_section_is_chosen_by_its_title():
    code, report = run(str(HOTFIX), "--kb", str(WITH_IA64), "--section", "configuration manager", "--format", "json")
    assert code == 0 and len(report["rows"]) == 9


def test_a_selection_without_rows_says_what_the_table_has():
    code, message = run(str(HOTFIX), "--kb", str(WITH_IA64), "--section", "Exchange")
    assert code == 2 and "no published row is in the sections 'Exchange'" in message
    assert "For all supported IA-64-based versions" in message


def test_swapped_inputs_are_named():
    code, message = run(str(KB / "kb2586709.txt"), "--kb", str(HOTFIX))
    assert code == 2 and "did you swap HOTFIX and --kb?" in message and "installer package" in message


def test_a_table_for_another_package_is_named(tmp_path):
    table = tmp_path / "other.md"
    table.write_text("|File name|File version|File size|Date|Time|Platform|\n|---|---|---|---|---|---|\n"
                     "|Other.dll|1.0.0.0|10|14-Sep-2019|10:00|x86|\n")
    code, report = run(str(HOTFIX), "--kb", str(table), "--format", "json")
    assert code == 1
    assert any("is this the table for this package?" in issue for issue in report["issues"])


def test_the_section_is_in_every_format():
    for fmt in ("text", "markdown", "html", "junit"):
        result = CliRunner().invoke(cli, ["verify", str(HOTFIX), "--kb", str(WITH_IA64), "--format", fmt])
        assert "For all supported IA-64-based versions" in result.stdout, fmt
