"""The MSI database writer, checked with msidump/msiinfo (GNOME msitools) and olefile.

Every package built here is read back by the independent tools and compared
with what the test asked the builder to write (tables, IDT column types, rows,
streams, codepage).  Expected bytes, where any, come from FORMATS.md test
vectors (Wine's hand-built patch test), not from our code.
"""
from __future__ import annotations

import struct
import subprocess
from collections import Counter
from pathlib import Path

import olefile
import pytest

from conftest import require_tool
from msitools.errors import DatabaseError, TableError
from msitools.db.columns import Column, type_word_from_idt
from msitools.testing.writer.database import DatabaseBuilder, pack_cell, raw_cells
from msitools.testing.writer.summary import SummaryInfo

MSI_CLSID = "000C1084-0000-0000-C000-000000000046"
MSP_CLSID = "000C1086-0000-0000-C000-000000000046"
MST_CLSID = "000C1082-0000-0000-C000-000000000046"


def units(*codes: int) -> str:
    return "".join(chr(c) for c in codes)


# FORMATS §1.1 test vectors
ENC_TABLES = units(0x4840, 0x3F7F, 0x4164, 0x422F, 0x4836)
ENC_COLUMNS = units(0x4840, 0x3B3F, 0x43F2, 0x4438, 0x45B1)
ENC_STRINGDATA = units(0x4840, 0x3F3F, 0x4577, 0x446C, 0x3B6A, 0x45E4, 0x4824)
ENC_STRINGPOOL = units(0x4840, 0x3F3F, 0x4577, 0x446C, 0x3E6A, 0x44B2, 0x482F)
ENC_FILE = units(0x4840, 0x430F, 0x422F)
ENC_MEDIA = units(0x4840, 0x4216, 0x4327, 0x4824)
ENC_CAB_MSITEST = units(0x3A8C, 0x47CB, 0x45B0, 0x45EC, 0x45A8, 0x4837)
ENC_APP_EXE = units(0x44CA, 0x47B3, 0x46E8, 0x4828)
ENC_EMPTY = units(0x4840, 0x440E, 0x45F3, 0x483C)  # "Empty" by the §1.1 rule: Em pt y
ENC_MSIPATCHSEQUENCE = units(0x4840, 0x4596, 0x3E6C, 0x45E4, 0x42E6, 0x421C, 0x4634, 0x4468, 0x4226)


# ---------------------------------------------------------------------------------------------
# independent readers


def msidump(package: Path, tmp_path: Path) -> "tuple[Path, str]":
    """Run ``msidump -t -s -d OUT``; msidump writes binary cells under its working directory."""
    tool = require_tool("msidump")
    out = tmp_path / f"dump-{package.stem}"
    out.mkdir()
    result = subprocess.run([tool, "-t", "-s", "-d", str(out), str(package)], cwd=out,
                            capture_output=True)
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    return out, result.stderr.decode(errors="replace")


def read_idt(path: Path) -> dict:
    """Parse an IDT file msidump wrote (UTF-8, CRLF, tab-separated)."""
    text = path.read_bytes().decode("utf-8").rstrip("\x00")
    lines = text.split("\r\n")
    assert lines[-1] == ""
    lines = lines[:-1]
    return {
        "columns": lines[0].split("\t"),
        "types": lines[1].split("\t"),
        "keys": lines[2].split("\t"),
        "rows": [line.split("\t") for line in lines[3:]],
    }


def msiinfo(*args: str) -> bytes:
    tool = require_tool("msiinfo")
    result = subprocess.run([tool, *args], capture_output=True)
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    return result.stdout


def no_libmsi_complaints(stderr: str, allowed: "tuple[str, ...]" = ()) -> None:
    for line in stderr.splitlines():
        if ("CRITICAL" in line or "WARNING" in line) and not any(a in line for a in allowed):
            pytest.fail(f"libmsi complained: {line}")


def idt_cell(value) -> str:
    return "" if value is None else str(value)


# ---------------------------------------------------------------------------------------------
# a plain package

PLAIN_SCHEMA = {
    "Property": [("Property", "s72", True), ("Value", "l0")],
    "File": [("File", "s72", True), ("Component_", "s72"), ("FileName", "l255"), ("FileSize", "i4"),
             ("Version", "S72"), ("Language", "S20"), ("Attributes", "I2"), ("Sequence", "i2")],
    "Media": [("DiskId", "i2", True), ("LastSequence", "i4"), ("DiskPrompt", "L64"),
              ("Cabinet", "S255"), ("VolumeLabel", "S32"), ("Source", "S72")],
    "FeatureComponents": [("Feature_", "s38", True), ("Component_", "s72", True)],
    "Empty": [("Name", "s72", True), ("Value", "S255")],
}
PLAIN_ROWS = {
    "Property": [("ProductName", "Writer Test"), ("ProductCode", "{11111111-2222-3333-4444-555555555555}"),
                 ("ProductVersion", "1.2.3"), ("Manufacturer", "msitools tests")],
    "File": [("app.exe", "MainComp", "app.exe", 123456, "1.2.3.4", "1033", 512, 1),
             ("readme.txt", "MainComp", "README~1.TXT|readme.txt", 0, None, None, None, 2),
             ("neg", "Other", "neg.bin", -2147483647, None, "0", -32767, 32767)],
    "Media": [(1, 3, None, "#product.cab", None, None), (2, 2147483647, "Disk 2", None, "VOL2", "src")],
    "FeatureComponents": [("Main", "MainComp"), ("Main", "Other"), ("Extra", "Other")],
    "Empty": [],
}


def build_plain(**options) -> DatabaseBuilder:
    b = DatabaseBuilder(**options)
    for name, cols in PLAIN_SCHEMA.items():
        b.add_table(name, cols)
        for row in PLAIN_ROWS[name]:
            b.add_row(name, *row)
    b.summary = SummaryInfo.for_msi(package_code="{ABCDEF01-2345-6789-ABCD-EF0123456789}",
                                    subject="Writer Test", author="msitools tests")
    return b


def check_tables_with_msidump(out: Path, schema: dict, rows: dict, binary_files: "dict | None" = None) -> None:
    for name, cols in schema.items():
        idt = read_idt(out / f"{name}.idt")
        assert idt["columns"] == [c[0] for c in cols], name
        assert idt["types"] == [c[1] for c in cols], name
        assert idt["keys"] == [name] + [c[0] for c in cols if len(c) > 2 and c[2]], name
        expected = []
        for row in rows[name]:
            cells = []
            for col, value in zip(cols, row):
                if isinstance(value, bytes):
                    key_values = [idt_cell(v) for c, v in zip(cols, row) if len(c) > 2 and c[2]]
                    cells.append(".".join([name, *key_values]))
                else:
                    cells.append(idt_cell(value))
            expected.append(cells)
        assert Counter(map(tuple, idt["rows"])) == Counter(map(tuple, expected)), name


def test_plain_package_reads_back_with_msidump(tmp_path):
    path = tmp_path / "plain.msi"
    build_plain().write(path)
    out, stderr = msidump(path, tmp_path)
    no_libmsi_complaints(stderr)
    check_tables_with_msidump(out, PLAIN_SCHEMA, PLAIN_ROWS)
    assert (out / "_ForceCodepage.idt").read_bytes().rstrip(b"\x00").endswith(b"1252\t_ForceCodepage\r\n")
    tables = msiinfo("tables", str(path)).decode().split()
    assert set(tables) == set(PLAIN_SCHEMA) | {"_SummaryInformation", "_ForceCodepage"}


def test_plain_package_container_with_olefile(tmp_path):
    data = build_plain().build()
    ole = olefile.OleFileIO(data)
    assert ole.root.clsid == MSI_CLSID
    names = {p[0] for p in ole.listdir()}
    for required in (ENC_TABLES, ENC_COLUMNS, ENC_STRINGDATA, ENC_STRINGPOOL, ENC_FILE, ENC_MEDIA,
                     "\x05SummaryInformation"):
        assert required in names
    # The empty table has no stream; every stream of a table is a whole number of rows.
    assert ENC_EMPTY not in names
    pool = ole.openstream(ENC_STRINGPOOL).read()
    assert struct.unpack_from("<I", pool)[0] == 1252
    # File rows are 2+2+2+4+2+2+2+2 = 18 bytes wide
    assert ole.get_size(ENC_FILE) == 18 * len(PLAIN_ROWS["File"])
    # _StringData is exactly the sum of the pool lengths (FORMATS §1.2)
    lengths = [struct.unpack_from("<H", pool, 4 + 4 * k)[0] for k in range((len(pool) - 4) // 4)]
    assert sum(lengths) == ole.get_size(ENC_STRINGDATA)


def test_empty_table_streams_option(tmp_path):
    path = tmp_path / "empty.msi"
    build_plain(empty_table_streams=True).write(path)
    ole = olefile.OleFileIO(path.read_bytes())
    assert ole.exists(ENC_EMPTY) and ole.get_size(ENC_EMPTY) == 0
    out, stderr = msidump(path, tmp_path)
    no_libmsi_complaints(stderr)
    check_tables_with_msidump(out, PLAIN_SCHEMA, PLAIN_ROWS)


def test_build_is_deterministic():
    assert build_plain().build() == build_plain().build()


def test_refcounts_count_every_cell(tmp_path):
    """_StringPool refcounts = number of cells (including _Tables/_Columns) using the string."""
    b = DatabaseBuilder()
    b.add_table("T", [("K", "s72", True), ("V", "S72"), ("W", "S72")])
    b.add_row("T", "a", "shared", "shared")
    b.add_row("T", "b", "shared", None)
    b.add_row("T", "c", "V", None)  # also a column name
    ole = olefile.OleFileIO(b.build())
    pool = ole.openstream(ENC_STRINGPOOL).read()
    data = ole.openstream(ENC_STRINGDATA).read()
    counts = {}
    offset = 0
    for k in range((len(pool) - 4) // 4):
        length, refs = struct.unpack_from("<HH", pool, 4 + 4 * k)
        counts[data[offset:offset + length].decode()] = refs
        offset += length
    # T: _Tables row + 3 _Columns rows; column names once each in _Columns
    assert counts == {"T": 4, "K": 1, "V": 2, "W": 1, "a": 1, "b": 1, "c": 1, "shared": 3}


# ---------------------------------------------------------------------------------------------
# binary cells and extra streams


def test_binary_cells_become_streams(tmp_path):
    schema = {
        "Binary": [("Name", "s72", True), ("Data", "v0")],
        "Patch": [("File_", "s72", True), ("Sequence", "i2", True), ("PatchSize", "i4"),
                  ("Attributes", "i2"), ("Header", "V0"), ("StreamRef_", "S72")],
    }
    icon = bytes(range(256)) * 20  # 5120 bytes: a regular-sector stream
    rows = {
        "Binary": [("NewBinary1", b"MZ tiny"), ("Icon.big", icon)],
        "Patch": [("file1", 5, 100, 0, b"PA19 header", None), ("file1", -7, 12, 1, b"second", "ref")],
    }
    b = DatabaseBuilder()
    for name, cols in schema.items():
        b.add_table(name, cols)
        for row in rows[name]:
            b.add_row(name, *row)
    b.add_stream("CAB_msitest", b"MSCF embedded cabinet bytes")
    b.add_stream("App.exe", b"an app")
    path = tmp_path / "binary.msi"
    b.write(path)

    out, stderr = msidump(path, tmp_path)
    no_libmsi_complaints(stderr)
    check_tables_with_msidump(out, schema, rows)
    streams = out / "_Streams"
    assert (streams / "Binary.NewBinary1").read_bytes() == b"MZ tiny"
    assert (streams / "Binary.Icon.big").read_bytes() == icon
    assert (streams / "Patch.file1.5").read_bytes() == b"PA19 header"
    assert (streams / "Patch.file1.-7").read_bytes() == b"second"
    assert (streams / "CAB_msitest").read_bytes() == b"MSCF embedded cabinet bytes"
    listed = msiinfo("streams", str(path)).decode().split()
    assert {"CAB_msitest", "App.exe", "Binary.NewBinary1", "Patch.file1.5"} <= set(listed)
    assert msiinfo("extract", str(path), "App.exe") == b"an app"

    ole = olefile.OleFileIO(path.read_bytes())
    assert ole.openstream(ENC_CAB_MSITEST).read() == b"MSCF embedded cabinet bytes"
    assert ole.openstream(ENC_APP_EXE).read() == b"an app"


def test_null_binary_cell_has_no_stream(tmp_path):
    b = DatabaseBuilder()
    b.add_table("Icon", [("Name", "s72", True), ("Data", "V0")])
    b.add_row("Icon", "none", None)
    b.add_row("Icon", "some", b"data")
    path = tmp_path / "nullbin.msi"
    b.write(path)
    out, stderr = msidump(path, tmp_path)
    # libmsi's export asks for a stream for every binary cell, NULL ones included,
    # and logs that it is missing: that is the expected complaint here.
    no_libmsi_complaints(stderr, allowed=("Icon.none", "failed to get stream"))
    rows = read_idt(out / "Icon.idt")["rows"]
    assert sorted(rows) == [["none", ""], ["some", "Icon.some"]]
    assert not (out / "_Streams" / "Icon.none").exists()


# ---------------------------------------------------------------------------------------------
# codepages


@pytest.mark.parametrize("codepage, text", [
    (932, "日本語のテキスト ｱｲｳ ①"),
    (65001, "Grüße – 日本 – Ключ 😀"),
    (1252, "Café “quotes” € ÿ"),
    (1251, "Привет мир"),
])
def test_codepages(codepage, text, tmp_path):
    schema = {"Property": [("Property", "s72", True), ("Value", "l0")]}
    rows = {"Property": [("ProductName", text), (text[:5] + "Key", "v")]}
    b = DatabaseBuilder(codepage=codepage)
    b.add_table("Property", schema["Property"])
    for row in rows["Property"]:
        b.add_row("Property", *row)
    b.summary = SummaryInfo(codepage=codepage, subject=text)
    path = tmp_path / f"cp{codepage}.msi"
    b.write(path)

    out, stderr = msidump(path, tmp_path)
    no_libmsi_complaints(stderr)
    check_tables_with_msidump(out, schema, rows)
    force = (out / "_ForceCodepage.idt").read_bytes().rstrip(b"\x00")
    assert force.endswith(f"{codepage}\t_ForceCodepage\r\n".encode())
    ole = olefile.OleFileIO(path.read_bytes())
    assert struct.unpack_from("<I", ole.openstream(ENC_STRINGPOOL).read())[0] == codepage
    # msiinfo prints summary strings as the raw bytes stored (in the summary codepage)
    suminfo = msiinfo("suminfo", str(path))
    assert b"Subject: " + text.encode({932: "cp932", 65001: "utf-8", 1252: "cp1252",
                                        1251: "cp1251"}[codepage]) in suminfo


def test_text_outside_the_codepage_is_refused():
    b = DatabaseBuilder(codepage=1252)
    b.add_table("Property", [("Property", "s72", True), ("Value", "l0")])
    b.add_row("Property", "X", "日本")
    with pytest.raises(DatabaseError):
        b.build()


# ---------------------------------------------------------------------------------------------
# long strings and long string references


@pytest.mark.parametrize("layout", ["wine", "compatible"])
def test_string_over_64k(layout, tmp_path):
    big = "".join(chr(ord("A") + i % 26) for i in range(200_000))  # length >> 16 == 3
    schema = {"Property": [("Property", "s72", True), ("Value", "l0")],
              "Other": [("K", "s72", True), ("V", "S0")]}
    rows = {"Property": [("Big", big), ("After", "tail value")], "Other": [("x", big)]}
    b = DatabaseBuilder(long_string_layout=layout)
    for name, cols in schema.items():
        b.add_table(name, cols)
        for row in rows[name]:
            b.add_row(name, *row)
    path = tmp_path / "long.msi"
    b.write(path)
    out, stderr = msidump(path, tmp_path)
    no_libmsi_complaints(stderr)
    check_tables_with_msidump(out, schema, rows)
    pool = olefile.OleFileIO(path.read_bytes()).openstream(ENC_STRINGPOOL).read()
    # the long string takes two slots: (0, x) then the 32-bit length split in two u16
    slots = [struct.unpack_from("<HH", pool, 4 + 4 * k) for k in range((len(pool) - 4) // 4)]
    index = next(i for i, (length, refs) in enumerate(slots) if length == 0 and refs)
    assert slots[index + 1] == (200_000 & 0xFFFF, 200_000 >> 16)
    assert slots[index][1] == (2 if layout == "wine" else 3)


def test_rust_msi_layout_is_not_what_msitools_reads(tmp_path):
    """Documents the reader split: libmsi 0.101 reads the Wine layout only."""
    big = "x" * 200_000
    b = DatabaseBuilder(long_string_layout="rust-msi")
    b.add_table("Property", [("Property", "s72", True), ("Value", "l0")])
    b.add_row("Property", "Big", big)
    path = tmp_path / "rust.msi"
    b.write(path)
    tool = require_tool("msidump")
    out = tmp_path / "rust-dump"
    out.mkdir()
    result = subprocess.run([tool, "-t", "-d", str(out), str(path)], cwd=out, capture_output=True)
    assert b"string table load failed" in result.stderr


def test_more_than_65535_strings_use_long_refs(tmp_path):
    count = 70_000
    b = DatabaseBuilder()
    b.add_table("Big", [("Key", "s72", True), ("Value", "S255"), ("Num", "i4"), ("Short", "I2")])
    expected = []
    for i in range(count):
        row = (f"K{i:06d}", f"value {i}" if i % 3 else None, i * 7 - 100_000,
               (i % 60_000) - 30_000 if i % 5 else None)
        b.add_row("Big", *row)
        expected.append([idt_cell(v) for v in row])
    path = tmp_path / "longrefs.msi"
    b.write(path)
    ole = olefile.OleFileIO(path.read_bytes())
    assert struct.unpack_from("<I", ole.openstream(ENC_STRINGPOOL).read())[0] == 1252 | 0x80000000
    # 3-byte Key + 3-byte Value + 4-byte Num + 2-byte Short per row
    big_stream = [p[0] for p in ole.listdir() if p[0].startswith("\u4840")
                  and ole.get_size(p[0]) == count * 12]
    assert len(big_stream) == 1
    out, stderr = msidump(path, tmp_path)
    no_libmsi_complaints(stderr)
    idt = read_idt(out / "Big.idt")
    assert idt["types"] == ["s72", "S255", "i4", "I2"]
    assert idt["rows"] == expected  # keys were interned in order, so rows come back in order


def test_forced_long_refs_on_a_small_database(tmp_path):
    b = build_plain(force_long_refs=True)
    path = tmp_path / "forced.msi"
    b.write(path)
    ole = olefile.OleFileIO(path.read_bytes())
    assert struct.unpack_from("<I", ole.openstream(ENC_STRINGPOOL).read())[0] & 0x80000000
    # File row: 3+3+3+4+3+3+2+2 = 23 bytes with 3-byte string cells
    assert ole.get_size(ENC_FILE) == 23 * len(PLAIN_ROWS["File"])
    out, stderr = msidump(path, tmp_path)
    no_libmsi_complaints(stderr)
    check_tables_with_msidump(out, PLAIN_SCHEMA, PLAIN_ROWS)


# ---------------------------------------------------------------------------------------------
# _Validation, row order, _Columns bytes


def test_validation_table(tmp_path):
    b = build_plain()
    b.enable_validation()
    b.add_validation("Media", "DiskId", "N", min_value=1, max_value=32767, description="Primary key")
    b.add_validation("File", "Component_", False, key_table="Component", key_column=1,
                     category="Identifier", description="Foreign key")
    path = tmp_path / "validation.msi"
    b.write(path)
    out, stderr = msidump(path, tmp_path)
    no_libmsi_complaints(stderr)
    check_tables_with_msidump(out, PLAIN_SCHEMA, PLAIN_ROWS)
    idt = read_idt(out / "_Validation.idt")
    assert idt["types"] == ["s32", "s32", "s4", "I4", "I4", "S255", "I2", "S32", "S255", "S255"]
    assert idt["keys"] == ["_Validation", "Table", "Column"]
    rows = {(r[0], r[1]): r for r in idt["rows"]}
    assert rows[("Media", "DiskId")] == ["Media", "DiskId", "N", "1", "32767", "", "", "", "", "Primary key"]
    assert rows[("File", "Component_")] == ["File", "Component_", "N", "", "", "Component", "1",
                                            "Identifier", "", "Foreign key"]
    assert rows[("File", "Version")][2] == "Y"
    assert rows[("Property", "Property")][7] == "Identifier"
    expected_pairs = {(t, c[0]) for t, cols in PLAIN_SCHEMA.items() for c in cols}
    expected_pairs |= {("_Validation", c) for c in idt["columns"]}
    assert set(rows) == expected_pairs
    assert "_Validation" in msiinfo("tables", str(path)).decode().split()


def test_rows_are_stored_in_key_order(tmp_path):
    """Stored order = raw key cells: signed order for integers, string-id order for strings."""
    b = DatabaseBuilder()
    b.add_table("Ints", [("K2", "i2", True), ("K4", "i4", True), ("V", "S10")])
    for k2, k4 in [(5, 1), (-3, 7), (100, 0), (0, -1), (5, -2147483647), (32767, 3), (-32767, 3)]:
        b.add_row("Ints", k2, k4, None)
    # "zulu" is interned (as a value) before "alpha" is used as a key, so its id is smaller
    b.add_table("Strs", [("K", "s72", True), ("V", "S72")])
    b.add_row("Strs", "mike", "zulu")
    b.add_row("Strs", "alpha", None)
    b.add_row("Strs", "zulu", None)
    path = tmp_path / "order.msi"
    b.write(path)
    out, _ = msidump(path, tmp_path)
    ints = [(int(r[0]), int(r[1])) for r in read_idt(out / "Ints.idt")["rows"]]
    assert ints == [(-32767, 3), (-3, 7), (0, -1), (5, -2147483647), (5, 1), (100, 0), (32767, 3)]
    strs = [r[0] for r in read_idt(out / "Strs.idt")["rows"]]
    assert strs == ["mike", "zulu", "alpha"]


def test_columns_stream_matches_wine_patch_test():
    """FORMATS §1.4 worked example: the _Columns stream of Wine's hand-built .msp."""
    b = DatabaseBuilder()
    b.add_table("MsiPatchSequence", [("PatchFamily", "s0", True), ("ProductCode", "S38", True),
                                     ("Sequence", "s0"), ("Attributes", "I2")])
    ole = olefile.OleFileIO(b.build("msp"))
    assert ole.root.clsid == MSP_CLSID
    cells = struct.unpack("<16H", ole.openstream(ENC_COLUMNS).read())
    assert list(cells) == [1, 1, 1, 1, 0x8001, 0x8002, 0x8003, 0x8004, 2, 3, 4, 5,
                           0xAD00, 0xBD26, 0x8D00, 0x9502]
    assert struct.unpack("<H", ole.openstream(ENC_TABLES).read()) == (1,)
    assert ENC_MSIPATCHSEQUENCE not in {p[0] for p in ole.listdir()}  # empty table: no stream


# ---------------------------------------------------------------------------------------------
# package kinds, substorages, padding


@pytest.mark.parametrize("kind, clsid", [("msi", MSI_CLSID), ("msm", MSI_CLSID), ("msp", MSP_CLSID),
                                         ("mst", MST_CLSID)])
def test_root_clsid_per_kind(kind, clsid):
    assert olefile.OleFileIO(build_plain().build(kind)).root.clsid == clsid


def test_patch_with_transform_substorages(tmp_path):
    transform = DatabaseBuilder()
    transform.add_table("Property", [("Property", "s72", True), ("Value", "l0")])
    transform.add_row("Property", "ProductVersion", "1.2.4")
    patch = DatabaseBuilder()
    patch.add_table("MsiPatchMetadata", [("Company", "S72", True), ("Property", "s72", True), ("Value", "l0")])
    patch.add_row("MsiPatchMetadata", None, "Description", "A test patch")
    patch.add_storage("T1ToU1", None, transform, created=128389576902850000, modified=128389576902850000)
    patch.add_storage("#T1ToU1", "{000C1082-0000-0000-C000-000000000046}", transform)
    patch.add_stream("PCW_CAB_Stuff", b"MSCF...")
    patch.summary = SummaryInfo.for_msp(target_product_codes=["{11111111-2222-3333-4444-555555555555}"],
                                        transforms=["T1ToU1", "#T1ToU1"],
                                        patch_code="{0F96CDC0-4CDF-4304-B283-7B9264889EF7}")
    path = tmp_path / "patch.msp"
    patch.write(path, kind="msp")

    ole = olefile.OleFileIO(path.read_bytes())
    assert ole.root.clsid == MSP_CLSID
    assert ole.getclsid("T1ToU1") == MST_CLSID
    assert ole.getclsid("#T1ToU1") == MST_CLSID
    entry = ole.direntries[ole._find("T1ToU1")]
    assert entry.createTime == entry.modifyTime == 128389576902850000
    assert ole.exists(f"T1ToU1/{ENC_STRINGPOOL}")
    assert ole.exists("#T1ToU1/\x05SummaryInformation")
    out, stderr = msidump(path, tmp_path)
    no_libmsi_complaints(stderr)
    idt = read_idt(out / "MsiPatchMetadata.idt")
    assert idt["rows"] == [["", "Description", "A test patch"]]
    suminfo = msiinfo("suminfo", str(path)).decode()
    assert "Last author: :T1ToU1;:#T1ToU1" in suminfo


def test_pad_to_published_size(tmp_path):
    path = tmp_path / "padded.msi"
    size = build_plain().write(path, pad_to=7_280_640)
    assert size == path.stat().st_size == 7_280_640
    out, stderr = msidump(path, tmp_path)
    no_libmsi_complaints(stderr)
    check_tables_with_msidump(out, PLAIN_SCHEMA, PLAIN_ROWS)
    assert "Padding" in msiinfo("streams", str(path)).decode().split()


# ---------------------------------------------------------------------------------------------
# the model


def test_model_copy_and_edit_for_transforms():
    base = build_plain()
    target = base.copy()
    target.set_cell("Property", ("ProductVersion",), "Value", "1.2.4")
    target.remove_row("File", "neg")
    target.add_row("File", {"File": "new.dll", "Component_": "MainComp", "FileName": "new.dll",
                            "FileSize": 1, "Sequence": 3})
    assert base.table("Property").rows[("ProductVersion",)] == ("ProductVersion", "1.2.3")
    assert target.table("Property").rows[("ProductVersion",)] == ("ProductVersion", "1.2.4")
    assert ("neg",) in base.table("File").rows and ("neg",) not in target.table("File").rows
    assert target.table("File").rows[("new.dll",)][4:] == (None, None, None, 3)
    assert [c.name for c in target.table("File").columns if c.key] == ["File"]


def test_errors_are_project_errors():
    b = DatabaseBuilder()
    b.add_table("T", [("K", "s72", True), ("N", "i2"), ("L", "i4"), ("B", "V0")])
    b.add_row("T", "a", 1, 1, None)
    with pytest.raises(TableError):
        b.add_row("T", "a", 2, 2, None)          # duplicate key
    with pytest.raises(TableError):
        b.add_row("T", None, 1, 1, None)         # NULL in a NOT NULL key
    with pytest.raises(TableError):
        b.add_row("T", "b", "1", 1, None)        # string in an integer column
    with pytest.raises(TableError):
        b.add_row("T", "c", 40000, 1, None)      # out of i2 range
    with pytest.raises(TableError):
        b.add_row("T", "d", -32768, 1, None)     # would be the NULL encoding
    with pytest.raises(TableError):
        b.add_row("T", "e", 1, -2 ** 31, None)   # MSI_NULL_INTEGER
    with pytest.raises(TableError):
        b.add_row("T", "f", 1, 1, "text")        # str in a binary column
    with pytest.raises(TableError):
        b.add_row("T", "g", 1)                   # wrong arity
    with pytest.raises(TableError):
        b.add_table("T", [("X", "s72", True)])   # table exists
    with pytest.raises(TableError):
        b.add_table("Bad", [("X", "q9")])        # unknown IDT type
    with pytest.raises(TableError):
        b.add_table("Wide", [(f"C{i}", "i2") for i in range(33)])
    b.add_row("T", "k" * 70, 1, 1, b"x")         # binary stream name too long for CFB
    with pytest.raises(TableError, match="too long"):
        b.build()
    with pytest.raises(DatabaseError):
        DatabaseBuilder().build("exe")
    loose = DatabaseBuilder(strict=False)
    loose.add_table("T", [("K", "s72", True), ("V", "s72")])
    loose.add_row("T", "a", None)                # allowed for malformed fixtures
    assert loose.build()


def test_cell_helpers_reproduce_wine_transform_bytes():
    """FORMATS §3.5: File record 08 00 | 01 00 | EA 03 00 80 (update FileSize of string 1 to 1002)
    and Media record 01 06 | 02 80 | E9 03 00 80 | 00 00 | 07 00 | 00 00 | 08 00."""
    file_key = Column("File", type_word_from_idt("s72", key=True), 1)
    file_size = Column("FileSize", type_word_from_idt("i4"), 4)
    record = b"\x08\x00" + b"".join(pack_cell(c, r, 2) for c, r in
                                    zip([file_key, file_size], raw_cells([file_key, file_size], ["patch.txt", 1002], [1])))
    assert record == bytes.fromhex("08000100EA030080")
    media = [Column("DiskId", type_word_from_idt("i2", key=True), 1),
             Column("LastSequence", type_word_from_idt("i4"), 2),
             Column("DiskPrompt", type_word_from_idt("L64"), 3),
             Column("Cabinet", type_word_from_idt("S255"), 4),
             Column("VolumeLabel", type_word_from_idt("S32"), 5),
             Column("Source", type_word_from_idt("S72"), 6)]
    raw = raw_cells(media, [2, 1001, None, "#CAB_msitest", None, "prop"], [0, 7, 0, 8])
    assert b"\x01\x06" + b"".join(pack_cell(c, r, 2) for c, r in zip(media, raw)) == \
        bytes.fromhex("0106" "0280" "E9030080" "0000" "0700" "0000" "0800")
    assert pack_cell(media[3], 0x12345, 3) == bytes.fromhex("452301")
