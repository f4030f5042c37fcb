"""Transform and patch reading: the corpus MSPs (Microsoft-built) and hand-built malformed transforms.

The malformed transforms are assembled record by record here (raw bytes through the
compound-file writer), not with the project's transform writer, so each test breaks
exactly one thing.
"""
from __future__ import annotations

import json
import struct

import pytest
from click.testing import CliRunner

from msitools import open_package
from msitools.cli import cli
from msitools.errors import TransformError
from msitools.patch.msp import Msp
from msitools.patch.report import patch_report
from msitools.container.streamname import encode_stream_name
from msitools.db.transform import Transform
from msitools.container.cfb_writer import CompoundFileWriter
from msitools.testing.writer.stringpool import StringPoolWriter
from msitools.testing.writer.summary import SummaryInfo

from conftest import FIXTURES

HELLO = FIXTURES / "wixl" / "hello.msi"
MST_CLSID = "{000C1082-0000-0000-C000-000000000046}"


# -- corpus: real Microsoft patches -----------------------------------------------------
def test_wpf_patch_report(corpus):
    with open_package(corpus("WPF2_32.msp")) as pkg:
        report = patch_report(Msp(pkg))
    assert [t["name"] for t in report["transforms"]] == ["T1ToU1", "#T1ToU1"]
    assert {t["target_product_code"] for t in report["transforms"]} == {"{2BA00471-0328-3743-93BD-FA813353A783}"}
    assert report["transforms"][0]["validation"] == ["product", "minor_version", "new_equal_base_version"]
    assert report["metadata"]["Classification"] == "update"
    assert report["metadata"]["TargetProductName"] == "Microsoft .NET Framework 3.0 Service Pack 1"
    assert [s["PatchFamily"] for s in report["sequence"]] == ["M_WPF2_32", "H_WPF2_32", "S_WPF2_32"]
    assert report["media"][0]["Cabinet"] == "#PCW_CAB_NetFX" and report["media"][0]["DiskId"] == 101
    assert report["patch_package"][0]["PatchId"] == report["patch_code"]
    members = report["cabinets"][0]["members"]
    assert [(m["name"], m["size"], m["kind"]) for m in members] == [("filler", 0, "empty")]
    service = report["tables"]["ServiceControl"]["rows"][0]
    assert service["ServiceControl"] == "WinFXFontCache_X86" and service["Event"] == 170
    assert report["tables"]["Patch"]["action"] == "create"


def test_sql_patch_report(corpus):
    with open_package(corpus("SQL2008_AS.msp")) as pkg:
        report = patch_report(Msp(pkg))
    assert [t["name"] for t in report["transforms"]] == ["Target01ToUpgrade01", "#Target01ToUpgrade01"]
    assert report["transforms"][0]["upgrade_code"] == "{6CD74176-0C4A-43E2-BC25-A14E5EFEFDAA}"
    assert report["transforms"][0]["platform"] == "x64"
    assert report["sequence"] == [{"PatchFamily": "SQLREMOVE", "ProductCode": None, "Sequence": "1", "Attributes": 1}]
    assert report["media"][0]["LastSequence"] == 1710
    members = report["cabinets"][0]["members"]
    assert [(m["name"], m["size"], m["compression"]) for m in members] == [("filler", 6, "LZX:18")]
    registry = report["tables"]["Registry"]["rows"]
    assert registry == [{"@op": "update", "@transform": "Target01ToUpgrade01", "Registry": "AS_OLAP2000Reg_32",
                         "Name": "OLAP2000UninstallOld"}]
    assert report["tables"]["RemoveFile"]["delete"] == 8
    # the custom table's schema is not in the patch: inferred, and said so
    custom = report["tables"]["_sqlServiceControl"]
    assert custom["schema"] == "inferred" and custom["delete"] == 2 and custom["issues"]


def test_patch_cli_json_and_text(corpus):
    result = CliRunner().invoke(cli, ["patch", str(corpus("WPF2_32.msp")), "--format", "json"])
    assert result.exit_code == 0
    assert json.loads(result.output)["patch_code"] == "{09966C32-C34D-4FF4-8C7E-94A9630DDEF8}"
    text = CliRunner().invoke(cli, ["patch", str(corpus("SQL2008_AS.msp"))]).output
    for word in ("Target01ToUpgrade01", "PCW_CAB_Family01", "SQLREMOVE", "filler"):
        assert word in text


# -- malformed transforms -------------------------------------------------------------------
def build_mst(records: "dict[str, bytes]", strings=("File", "readme.txt", "extra"), columns: bytes = b"",
              tables: bytes = b"") -> bytes:
    pool = StringPoolWriter(1252)
    for s in strings:
        pool.intern(s)
    cfb = CompoundFileWriter(MST_CLSID)
    summary = SummaryInfo.for_mst(template="Intel;1033", revision="{1B2F3A4C-5D6E-4F70-8192-A3B4C5D6E7F8}1.2.3.0;"
                                  "{1B2F3A4C-5D6E-4F70-8192-A3B4C5D6E7F8}1.2.3.0;{0A1B2C3D-4E5F-4061-8293-A4B5C6D7E8F9}")
    cfb.add_stream("\x05SummaryInformation", summary.to_bytes())
    cfb.add_stream(encode_stream_name("_StringPool", True), pool.pool_bytes())
    cfb.add_stream(encode_stream_name("_StringData", True), pool.data_bytes())
    if tables:
        cfb.add_stream(encode_stream_name("_Tables", True), tables)
    if columns:
        cfb.add_stream(encode_stream_name("_Columns", True), columns)
    for table, data in records.items():
        cfb.add_stream(encode_stream_name(table, True), data)
    return cfb.to_bytes()


# File columns in hello.msi: File s72 K, Component_ s72, FileName l255, FileSize i4, Version S72,
# Language S20, Attributes I2, Sequence i4.  An update of FileSize: mask bit 3, key id 2 ("readme.txt").
GOOD_UPDATE = struct.pack("<HHI", 0x0008, 2, 99 ^ 0x80000000)


def run_transform(tmp_path, data: bytes, base: bool = True):
    path = tmp_path / "t.mst"
    path.write_bytes(data)
    args = ["transform", str(path), "--format", "json"] + (["--base", str(HELLO)] if base else [])
    return path, CliRunner().invoke(cli, args)


def test_wellformed_update_with_base_shows_old_and_new(tmp_path):
    _, result = run_transform(tmp_path, build_mst({"File": GOOD_UPDATE}))
    assert result.exit_code == 0, result.output
    table = json.loads(result.output)["tables"][0]
    change = table["changes"][0]
    assert (table["table"], change["op"], change["key"]) == ("File", "update", ["readme.txt"])
    assert change["values"]["FileSize"] == 99 and change["old"]["FileSize"] == 35


def test_patched_view_marks_operations(tmp_path):
    path, _ = run_transform(tmp_path, build_mst({"File": GOOD_UPDATE}))
    result = CliRunner().invoke(cli, ["table", str(HELLO), "File", "--transform", str(path), "--format", "json"])
    rows = {r["File"]: r for r in json.loads(result.output)["rows"]}
    assert rows["readme.txt"]["@op"] == "update" and rows["readme.txt"]["FileSize"] == 99
    assert rows["data.bin"]["@op"] == "none"


@pytest.mark.parametrize("name,records,message", [
    ("truncated-record", {"File": GOOD_UPDATE[:-1]}, "runs past the end of the stream"),
    ("truncated-mask", {"File": GOOD_UPDATE + b"\x08"}, "is truncated"),
    ("bad-mask", {"File": struct.pack("<HH", 0x2001, 2)}, "bad mask"),
    ("bad-update-mask", {"File": struct.pack("<HH", 0x0800, 2)}, "bad mask"),
    ("string-out-of-range", {"File": struct.pack("<HHI", 0x0008, 77, 1)}, "string id 77 out of range"),
    ("unknown-table", {"NoSuchTable": struct.pack("<HH", 0, 2)}, "'NoSuchTable'"),
])
def test_malformed_transform_exit_2(tmp_path, name, records, message):
    path, result = run_transform(tmp_path, build_mst(records))
    assert result.exit_code == 2, result.output
    line = result.output.strip()
    assert "\n" not in line and str(path) in line and message in line
    table = next(iter(records))
    assert f"'{table}'" in line and "transform 't.mst'" in line


def test_malformed_transform_library_error_names_table():
    with pytest.raises(TransformError, match="table 'File'"):
        data = build_mst({"File": GOOD_UPDATE[:-2]})
        with open_package(data, name="x.mst") as pkg, open_package(HELLO) as base:
            t = Transform(pkg.cfb, pkg.cfb.root, "x.mst", "x.mst")
            t.changes({n: base.database.schema(n) for n in base.database.table_names})


def test_transform_adds_table_and_columns(tmp_path):
    # _Tables: add "Extra"; _Columns: Extra.Id (s72 key), Extra.Count (I2), Number NULL as Windows writes
    strings = ("File", "readme.txt", "Extra", "Id", "Count", "row1")
    tables = struct.pack("<HH", 0x0101, 3)
    columns = (struct.pack("<HHHHH", 0x0401, 3, 0, 4, 0x2D48 + 0x8000)
               + struct.pack("<HHHHH", 0x0401, 3, 0, 5, 0x1502 + 0x8000))
    extra = struct.pack("<HHH", 0x0201, 6, 0x8000 + 7)
    path, result = run_transform(tmp_path, build_mst({"Extra": extra}, strings, columns, tables))
    assert result.exit_code == 0, result.output
    table = json.loads(result.output)["tables"][0]
    assert table["table"] == "Extra" and table["action"] == "create"
    assert [c["name"] for c in table["added_columns"]] == ["Id", "Count"]
    assert table["changes"][0]["values"] == {"Id": "row1", "Count": 7}
    listing = CliRunner().invoke(cli, ["tables", str(HELLO), "--transform", str(path), "--format", "json"])
    extra_entry = [t for t in json.loads(listing.output)["tables"] if t["name"] == "Extra"][0]
    assert extra_entry["rows"] == 1 and extra_entry["action"] == "create"
