"""The transform writer (msitools.testing.writer.transform).

No Linux tool reads transform records, so the record encoder is checked
against the byte-exact transforms of Wine's ``dlls/msi/tests/patch.c``
(FORMATS §3.5; the arrays below are copied from that test: ``t1_data*`` is the
main transform ``targetToupgraded``, ``t2_data*`` its ``#`` partner).  Given
Wine's string order, every stream we write must equal Wine's bytes.  The
container and summary are read back by olefile and msiinfo.
"""
from __future__ import annotations

import struct
import subprocess
import uuid

import olefile
import pytest

from conftest import require_tool
from msitools.errors import TransformError
from msitools.container.streamname import encode_stream_name
from msitools.testing.writer.database import DatabaseBuilder, make_column
from msitools.testing.writer.summary import SummaryInfo
from msitools.testing.writer.transform import TransformWriter, insert_mask, transform_summary

MST_CLSID = "000C1082-0000-0000-C000-000000000046"


def u16(*values: int) -> bytes:
    return struct.pack(f"<{len(values)}H", *values)


def units(*codes: int) -> str:
    return "".join(chr(c) for c in codes)


def pool_ids(streams: "dict[str, bytes]") -> "dict[str, int]":
    """String -> id from a transform's _StringPool/_StringData (short strings only)."""
    pool, data = streams["_StringPool"], streams["_StringData"]
    lengths = struct.unpack(f"<{len(pool) // 2}H", pool)[2::2]
    ids, pos = {}, 0
    for number, length in enumerate(lengths, start=1):
        ids[data[pos:pos + length].decode()] = number
        pos += length
    return ids


def schema(**tables):
    return {name: [make_column(spec, i + 1) for i, spec in enumerate(cols)] for name, cols in tables.items()}


# The wine-ptest database schema (its IDT files: file_dat, media_dat, property_dat, install_exec_seq_dat).
WINE_SCHEMA = schema(
    File=[("File", "s72", True), ("Component_", "s72"), ("FileName", "l255"), ("FileSize", "i4"),
          ("Version", "S72"), ("Language", "S20"), ("Attributes", "I2"), ("Sequence", "i2")],
    Media=[("DiskId", "i2", True), ("LastSequence", "i4"), ("DiskPrompt", "L64"), ("Cabinet", "S255"),
           ("VolumeLabel", "S32"), ("Source", "S72")],
    Property=[("Property", "s72", True), ("Value", "l0")],
    InstallExecuteSequence=[("Action", "s72", True), ("Condition", "S255"), ("Sequence", "I2")],
)

# wine dlls/msi/tests/patch.c: t1 (main transform)
T1_FILE = u16(0x0008, 0x0001, 0x03EA, 0x8000)
T1_STRINGDATA = b"patch.txt"
T1_STRINGPOOL = u16(0, 0, 9, 1)

# t2 (the '#' transform)
T2_STRINGS = ["patch.txt", "PATCHNEWSUMMARYSUBJECT", "Installation Database", "PATCHNEWPACKAGECODE",
              "{42A14A82-12F8-4E6D-970E-1B4EE7BE28B0}", "PatchFiles", "#CAB_msitest", "prop", "Patch",
              "File_", "Sequence", "PatchSize", "Attributes", "Header", "StreamRef_", "PatchPackage",
              "PatchId", "Media_", "{0F96CDC0-4CDF-4304-B283-7B9264889EF7}", "MsiPatchHeaders", "StreamRef"]
T2_STREAMS = {
    "File": u16(0x00C0, 0x0001, 0x9000, 0x83E8),
    "Media": u16(0x0601, 0x8002, 0x03E9, 0x8000, 0x0000, 0x0007, 0x0000, 0x0008),
    "_Columns": u16(
        0x0401, 0x0009, 0x0000, 0x000A, 0xAD48, 0x0401, 0x0009, 0x0000,
        0x000B, 0xA502, 0x0401, 0x0009, 0x0000, 0x000C, 0x8104, 0x0401,
        0x0009, 0x0000, 0x000D, 0x8502, 0x0401, 0x0009, 0x0000, 0x000E,
        0x9900, 0x0401, 0x0009, 0x0000, 0x000F, 0x9D48, 0x0401, 0x0010,
        0x0000, 0x0011, 0xAD26, 0x0401, 0x0010, 0x0000, 0x0012, 0x8502,
        0x0401, 0x0014, 0x0000, 0x0015, 0xAD26, 0x0401, 0x0014, 0x0000,
        0x000E, 0x8900),
    "_Tables": u16(0x0101, 0x0009, 0x0101, 0x0010, 0x0101, 0x0014),
    "Property": u16(0x0201, 0x0002, 0x0003, 0x0201, 0x0004, 0x0005),
    "PatchPackage": u16(0x0201, 0x0013, 0x8002),
    "InstallExecuteSequence": u16(0x0301, 0x0006, 0x0000, 0x87D1),
    "_StringData": (b"patch.txtPATCHNEWSUMMARYSUBJECTInstallation DatabasePATCHNEWPACKAGECODE"
                    b"{42A14A82-12F8-4E6D-970E-1B4EE7BE28B0}"
                    b"PatchFiles#CAB_msitestpropPatchFile_SequencePatchSizeAttributesHeaderStreamRef_"
                    b"PatchPackagePatchIdMedia_"
                    b"{0F96CDC0-4CDF-4304-B283-7B9264889EF7}MsiPatchHeadersStreamRef"),
    "_StringPool": u16(0, 0, 9, 1, 22, 1, 21, 1, 19, 1, 38, 1, 10, 1, 12, 1, 4, 1, 5, 7, 5, 1, 8, 1,
                       9, 1, 10, 1, 6, 2, 10, 1, 12, 3, 7, 1, 6, 1, 38, 1, 15, 3, 9, 1),
}
# wine's t2_name* arrays: encoded stream names of the '#' transform
T2_NAMES = {
    "File": units(0x4840, 0x430F, 0x422F),
    "Media": units(0x4840, 0x4216, 0x4327, 0x4824),
    "_Columns": units(0x4840, 0x3B3F, 0x43F2, 0x4438, 0x45B1),
    "_Tables": units(0x4840, 0x3F7F, 0x4164, 0x422F, 0x4836),
    "Property": units(0x4840, 0x4559, 0x44F2, 0x4568, 0x4737),
    "PatchPackage": units(0x4840, 0x4119, 0x41B7, 0x3E6B, 0x41A4, 0x412E, 0x422A),
    "InstallExecuteSequence": units(0x4840, 0x4452, 0x45F6, 0x43E4, 0x3BAF, 0x423B, 0x4626, 0x4237,
                                    0x421C, 0x4634, 0x4468, 0x4226),
    "_StringData": units(0x4840, 0x3F3F, 0x4577, 0x446C, 0x3B6A, 0x45E4, 0x4824),
    "_StringPool": units(0x4840, 0x3F3F, 0x4577, 0x446C, 0x3E6A, 0x44B2, 0x482F),
}


def wine_main() -> TransformWriter:
    writer = TransformWriter(WINE_SCHEMA, codepage=0)
    writer.update("File", ("patch.txt",), {"FileSize": 1002})
    return writer


def wine_paired() -> TransformWriter:
    writer = TransformWriter(WINE_SCHEMA, codepage=0, string_order=T2_STRINGS)
    writer.update("File", ("patch.txt",), {"Attributes": 0x1000, "Sequence": 1000})
    writer.insert("Media", 2, 1001, None, "#CAB_msitest", None, "prop")
    writer.create_table("Patch", [("File_", "s72", True), ("Sequence", "i2", True), ("PatchSize", "i4"),
                                  ("Attributes", "i2"), ("Header", "V0"), ("StreamRef_", "S72")])
    writer.create_table("PatchPackage", [("PatchId", "s38", True), ("Media_", "i2")])
    writer.create_table("MsiPatchHeaders", [("StreamRef", "s38", True), ("Header", "v0")])
    # inserted in the opposite order of Wine's records: the writer sorts by key cells
    writer.insert("Property", "PATCHNEWPACKAGECODE", "{42A14A82-12F8-4E6D-970E-1B4EE7BE28B0}")
    writer.insert("Property", "PATCHNEWSUMMARYSUBJECT", "Installation Database")
    writer.insert("PatchPackage", "{0F96CDC0-4CDF-4304-B283-7B9264889EF7}", 2)
    writer.insert("InstallExecuteSequence", "PatchFiles", None, 2001)
    return writer


# ---------------------------------------------------------------------------------------------
# FORMATS §3.5 worked bytes


def test_main_transform_matches_wine_bytes():
    streams = wine_main().table_streams()
    assert streams == {"File": T1_FILE, "_StringData": T1_STRINGDATA, "_StringPool": T1_STRINGPOOL}
    assert T1_FILE == bytes.fromhex("08 00 01 00 EA 03 00 80")   # as quoted in FORMATS §3.5


def test_paired_transform_matches_wine_bytes():
    streams = wine_paired().table_streams()
    assert set(streams) == set(T2_STREAMS)      # no stream for the row-less Patch / MsiPatchHeaders
    for name, data in T2_STREAMS.items():
        assert streams[name] == data, name
    # the records FORMATS §3.5 quotes
    assert streams["_Columns"][:10] == bytes.fromhex("01 04 09 00 00 00 0A 00 48 AD")
    assert streams["_Tables"] == bytes.fromhex("01 01 09 00 01 01 10 00 01 01 14 00")
    assert streams["Media"] == bytes.fromhex("01 06 02 80 E9 03 00 80 00 00 07 00 00 00 08 00")
    assert streams["File"] == bytes.fromhex("C0 00 01 00 00 90 E8 83")
    assert streams["PatchPackage"] == bytes.fromhex("01 02 13 00 02 80")
    assert streams["InstallExecuteSequence"] == bytes.fromhex("01 03 06 00 00 00 D1 87")


def test_paired_transform_storage_names_match_wine():
    storage = wine_paired().to_storage("#targetToupgraded")
    names = {n for n in storage.children if n != "\x05SummaryInformation"}
    assert names == set(T2_NAMES.values())
    assert storage.clsid == uuid.UUID(MST_CLSID).bytes_le


# ---------------------------------------------------------------------------------------------
# record kinds


def simple_base() -> DatabaseBuilder:
    db = DatabaseBuilder(1252)
    db.add_table("T", [("K", "s72", True), ("N", "i2", True), ("S", "S72"), ("L", "I4"), ("B", "V0")])
    db.add_row("T", "a", 1, "x", 5, None)
    db.add_row("T", "b", -2, None, None, b"blob")
    return db


def test_record_kinds_and_cell_encodings():
    writer = TransformWriter(simple_base())
    writer.delete("T", "b", -2)
    writer.update("T", ("a", 1), {"L": None, "S": "y"})
    writer.insert("T", "c", 3, None, -1, None)
    streams = writer.table_streams()
    assert struct.unpack_from("<I", streams["_StringPool"])[0] == 1252
    ids = pool_ids(streams)
    assert set(ids) == {"a", "b", "c", "y"}     # only strings the records use
    update = u16(0b01100, ids["a"], 1 + 0x8000, ids["y"]) + struct.pack("<I", 0)
    delete = u16(0, ids["b"], (-2 + 0x8000) & 0xFFFF)
    insert = u16(insert_mask(5), ids["c"], 3 + 0x8000, 0) + struct.pack("<I", (-1 ^ 0x80000000) & 0xFFFFFFFF) + u16(0)
    records = {update, delete, insert}
    stream = streams["T"]
    assert len(stream) == sum(len(r) for r in records)
    # records are sorted by their raw key cells (string id first)
    order = sorted(records, key=lambda r: struct.unpack_from("<HH", r, 2))
    assert stream == b"".join(order)


def test_binary_cells_get_streams_named_from_the_keys():
    writer = TransformWriter(simple_base())
    writer.update("T", ("a", 1), {"B": b"new data"})
    writer.insert("T", "d", -7, None, None, b"\x00\x01")
    binary = writer.binary_streams()
    assert binary == {encode_stream_name("T.a.1", False): b"new data",
                      encode_stream_name("T.d.-7", False): b"\x00\x01"}
    streams = writer.table_streams()
    ids = pool_ids(streams)
    update = u16(1 << 4, ids["a"], 1 + 0x8000, 1)          # only column 5 (B): placeholder 1
    insert = u16(insert_mask(5), ids["d"], (-7 + 0x8000) & 0xFFFF, 0, 0, 0, 1)
    assert streams["T"] == b"".join(sorted([update, insert], key=lambda r: struct.unpack_from("<H", r, 2)))


def test_long_string_references_widen_every_string_cell():
    base = simple_base()
    short = TransformWriter(base)
    wide = TransformWriter(base, force_long_refs=True)
    for writer in (short, wide):
        writer.insert("T", "e", 4, "z", None, None)
    s, w = short.table_streams(), wide.table_streams()
    assert struct.unpack_from("<I", w["_StringPool"])[0] == 1252 | 0x80000000
    assert len(w["T"]) == len(s["T"]) + 2          # two string cells, one byte more each
    mask, e_low, e_high = struct.unpack_from("<HHB", w["T"])
    assert mask == insert_mask(5) and e_high == 0


def test_schema_changes_new_columns_and_dropped_tables():
    base = simple_base()
    base.add_table("Old", [("Id", "s72", True)])
    writer = TransformWriter(base)
    writer.drop_table("Old")
    writer.add_column("T", ("Extra", "S72"))
    writer.create_table("New", [("Id", "i2", True), ("Text", "L0")])
    writer.add_column("New", ("More", "I4"))
    streams = writer.table_streams()
    ids = pool_ids(streams)
    assert streams["_Tables"] == b"".join(sorted([u16(0x0101, ids["New"]), u16(0, ids["Old"])],
                                                 key=lambda r: struct.unpack_from("<H", r, 2)))
    new_columns = [u16(0x0401, ids["New"], 0, ids["Id"], 0x2502 + 0x8000),
                   u16(0x0401, ids["New"], 0, ids["Text"], 0x1F00 + 0x8000),
                   u16(0x0401, ids["New"], 0, ids["More"], 0x1104 + 0x8000)]
    # a column appended to an existing table keeps its explicit number (6)
    appended = [u16(0x0401, ids["T"], 6 + 0x8000, ids["Extra"], 0x1D48 + 0x8000)]
    expected = b"".join(new_columns + appended) if ids["New"] < ids["T"] else b"".join(appended + new_columns)
    assert streams["_Columns"] == expected
    # a later insert into T carries the new column too
    writer.insert("T", "f", 9, None, None, None, "extra")
    assert struct.unpack_from("<H", writer.table_streams()["T"])[0] == insert_mask(6)


def test_from_diff_finds_every_kind_of_change():
    base = simple_base()
    base.add_table("Gone", [("Id", "s72", True)])
    target = base.copy()
    target.drop_table("Gone")
    target.add_table("Added", [("Id", "s72", True), ("V", "I2")])
    target.add_row("Added", "one", 1)
    target.remove_row("T", "b", -2)
    target.set_cell("T", ("a", 1), "L", 6)
    target.add_row("T", "c", 3, None, None, None)
    writer = TransformWriter.from_diff(base, target)
    ops = [(c["table"], c["op"], tuple(c.get("key", ())), c.get("values")) for c in writer.describe()]
    assert ops == [
        ("Gone", "drop_table", (), None),
        ("Added", "create_table", (), None),
        ("Added", "insert", ("one",), {"Id": "one", "V": 1}),
        ("T", "update", ("a", 1), {"L": 6}),
        ("T", "delete", ("b", -2), {}),
        ("T", "insert", ("c", 3), {"K": "c", "N": 3, "S": None, "L": None, "B": None}),
    ]


def test_editing_errors_are_transform_errors():
    base = simple_base()
    writer = TransformWriter(base)
    with pytest.raises(TransformError, match="key column"):
        writer.update("T", ("a", 1), {"N": 2})
    with pytest.raises(TransformError, match="no row"):
        writer.update("T", ("zz", 1), {"S": "q"})
    with pytest.raises(TransformError, match="no row"):
        writer.delete("T", "zz", 1)
    with pytest.raises(TransformError, match="already has a row"):
        writer.insert("T", "a", 1, None, None, None)
    with pytest.raises(TransformError, match="no table"):
        writer.insert("Nope", "x")
    with pytest.raises(TransformError, match="no column"):
        writer.update("T", ("a", 1), {"Missing": 1})
    base.add_table("Gone", [("Id", "s72", True)])
    dropper = TransformWriter(base)
    dropper.drop_table("Gone")
    with pytest.raises(TransformError, match="re-created"):
        dropper.create_table("Gone", [("Id", "s72", True)])
    with pytest.raises(TransformError, match="Column objects"):
        TransformWriter({"T": [("K", "s72", True)]})
    wide = DatabaseBuilder()
    wide.add_table("W", [("K", "s72", True)] + [(f"C{i}", "I2") for i in range(2, 19)])
    wide.add_row("W", "k", *([None] * 17))
    with pytest.raises(TransformError, match="columns 1..16"):
        TransformWriter(wide).update("W", ("k",), {"C17": 1})
    target = base.copy()
    target.tables["T"].columns[2] = make_column(("S", "S255"), 3)
    with pytest.raises(TransformError, match="append"):
        TransformWriter.from_diff(base, target)


# ---------------------------------------------------------------------------------------------
# standalone .mst: container and summary read by olefile and msiinfo


def test_standalone_mst_is_read_by_olefile_and_msiinfo(tmp_path):
    msiinfo = require_tool("msiinfo")
    base = simple_base()
    base.add_table("Property", [("Property", "s72", True), ("Value", "l0")])
    base.add_rows("Property", [("ProductCode", "{11111111-2222-3333-4444-555555555555}"),
                               ("ProductVersion", "1.2.3"), ("UpgradeCode", "{99999999-8888-7777-6666-555555555555}")])
    base.summary = SummaryInfo.for_msi(package_code="{00000000-0000-0000-0000-000000000001}",
                                       template="x64;1031", page_count=200)
    target = base.copy()
    target.set_cell("Property", ("ProductVersion",), "Value", "1.2.4")
    summary = transform_summary(base, target, validation=0x0922, error_conditions=0x1F, title="Transform")
    writer = TransformWriter.from_diff(base, target, summary=summary)
    path = tmp_path / "t.mst"
    writer.write(path)

    ole = olefile.OleFileIO(str(path))
    try:
        assert ole.root.clsid == MST_CLSID
        entries = {tuple(e) for e in ole.listdir(streams=True, storages=True)}
        assert entries == {("\x05SummaryInformation",), (encode_stream_name("_StringPool", True),),
                           (encode_stream_name("_StringData", True),), (encode_stream_name("Property", True),)}
        record = ole.openstream(encode_stream_name("Property", True)).read()
        assert len(record) == 6 and record[:2] == u16(0b10)
    finally:
        ole.close()

    out = subprocess.run([msiinfo, "suminfo", str(path)], capture_output=True, text=True, check=True).stdout
    revision = ("{11111111-2222-3333-4444-555555555555}1.2.3;{11111111-2222-3333-4444-555555555555}1.2.4;"
                "{99999999-8888-7777-6666-555555555555}")
    assert f"Revision number (UUID): {revision}" in out
    assert "Template: x64;1031" in out
    assert "Last author: x64;1031" in out
    assert f"Restrict: {0x0922001F} ({0x0922001F:x})" in out   # msiinfo's label for PID 16
    assert "Title: Transform" in out
