"""verify --depth (packages inside the delivery) and the published-table inputs it accepts."""
from __future__ import annotations

import json

from click.testing import CliRunner

from msitools.cli import cli
from msitools.testing.writer.package import STANDARD_DIRECTORIES, PayloadFile, build_package
from msitools.testing.writer.pe import build_pe

import datetime

STAMP = datetime.datetime(2010, 2, 1, 16, 35)


def test_depth_opens_msi_payloads(tmp_path):
    inner_pe = build_pe(machine="x64", file_version="2.0.0.1", product_version="2.0.0.1", size=6000,
                        timestamp=STAMP, is_dll=True)
    inner = build_package([PayloadFile("ProgramFilesFolder", "core.dll", inner_pe, version="2.0.0.1")],
                          directories=STANDARD_DIRECTORIES).database.build("msi")
    outer = build_package([PayloadFile("ProgramFilesFolder", "Inner.msi", inner)], directories=STANDARD_DIRECTORIES,
                          product_code="{11111111-2222-3333-4444-00000000AAAA}")
    hotfix = tmp_path / "hotfix.msi"
    outer.write(hotfix)
    table = tmp_path / "table.csv"
    table.write_text("File name,File version,File size,Date,Time,Platform\n"
                     f"Inner.msi,Not Applicable,{len(inner)},01-Feb-2010,16:35,Not Applicable\n"
                     "core.dll,2.0.0.1,6000,01-Feb-2010,16:35,x64\n")
    shallow = json.loads(CliRunner().invoke(cli, ["verify", str(hotfix), "--kb", str(table), "--format",
                                                  "json"]).output)
    assert [r["status"] for r in shallow["rows"]] == ["pass", "missing"]
    result = CliRunner().invoke(cli, ["verify", str(hotfix), "--kb", str(table), "--depth", "1", "--format", "json"])
    assert result.exit_code == 0, result.output
    deep = json.loads(result.output)
    assert [r["status"] for r in deep["rows"]] == ["pass", "pass"]
    assert deep["rows"][1]["found_in"][-2:] == [deep["rows"][1]["found_in"][-2], "core.dll"]
    assert "Inner.msi" in deep["rows"][1]["found_in"]


def test_base_names_the_files_a_patch_only_updates():
    from conftest import FIXTURES

    replica = FIXTURES / "kb2586709"
    result = CliRunner().invoke(cli, ["verify", str(replica / "SCCM2007-SP2-2586709-X86-ENU.msi"), "--kb",
                                      str(replica / "kb2586709.txt"), "--base",
                                      str(replica / "sccm2007sp2-siteserver.msi"), "--format", "json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    patch_files = [d for d in report["delivered"] if d["key"] and d["key"].endswith(("_i386", "_x64"))]
    assert len(patch_files) == 6
    assert {d["name_source"] for d in patch_files} == {"base File table (--base)"}
    # without --base the names come from the images' version resources, and the report says so
    plain = json.loads(CliRunner().invoke(cli, ["verify", str(replica / "SCCM2007-SP2-2586709-X86-ENU.msi"), "--kb",
                                                str(replica / "kb2586709.txt"), "--format", "json"]).output)
    assert {d["name_source"] for d in plain["delivered"] if d["key"] and d["key"].endswith(("_i386", "_x64"))} == \
        {"PE OriginalFilename (the patch does not carry FileName)"}
