"""CFHEADER / CFFOLDER / CFFILE parsing and the CFDATA checksum, on hand-assembled bytes.

Every expected value below is written by hand next to the bytes that carry it
(MS-CAB §2.1-2.4), not computed by the code under test.
"""
from __future__ import annotations

import datetime as dt
import io
import struct

import pytest

from msitools.cab import Cabinet
from msitools.cab.checksum import block_checksum, fold
from msitools.cab.header import dos_datetime
from msitools.errors import CabinetError, ChecksumError

# --- a hand-assembled cabinet: reserve areas, prev/next names, two folders ---
HEADER_RESERVE = b"SIGNATURE-AREA"  # 14 bytes of header reserve
CFHEADER = (
    b"MSCF"  # signature
    + struct.pack("<I", 0)  # reserved1
    + struct.pack("<I", 0x1234)  # cbCabinet (not checked against the real size)
    + struct.pack("<I", 0)  # reserved2
    + struct.pack("<I", 36 + 4 + 14 + 22 + 2 * (8 + 3))  # coffFiles = 98
    + struct.pack("<I", 0)  # reserved3
    + bytes([3, 1])  # versionMinor 3, versionMajor 1
    + struct.pack("<H", 2)  # cFolders
    + struct.pack("<H", 3)  # cFiles
    + struct.pack("<H", 0x0007)  # flags: PREV_CABINET | NEXT_CABINET | RESERVE_PRESENT
    + struct.pack("<H", 0xBEEF)  # setID
    + struct.pack("<H", 1)  # iCabinet
    + struct.pack("<HBB", 14, 3, 2)  # cbCFHeader 14, cbCFFolder 3, cbCFData 2
    + HEADER_RESERVE
    + b"a.cab\0" + b"d1\0"  # szCabinetPrev, szDiskPrev (9 bytes)
    + b"c.cab\0" + b"Disk 3\0"  # szCabinetNext, szDiskNext (13 bytes)
)
CFFOLDERS = (
    struct.pack("<IHH", 500, 4, 0x1503) + b"F0r"  # coffCabStart 500, 4 blocks, LZX window 21; reserve "F0r"
    + struct.pack("<IHH", 900, 1, 0x0001) + b"F1r"  # coffCabStart 900, 1 block, MSZIP
)
CFFILES = (
    # cbFile 10, uoffFolderStart 0, iFolder 0xFFFD (continued from previous -> folder 0),
    # date 2011-05-13 = (31<<9)|(5<<5)|13, time 21:11:54 = (21<<11)|(11<<5)|27, attribs archive
    struct.pack("<IIHHHH", 10, 0, 0xFFFD, (31 << 9) | (5 << 5) | 13, (21 << 11) | (11 << 5) | 27, 0x20)
    + b"first.txt\0"
    # cbFile 0, offset 10, folder 0, date 1980-01-01 = (0<<9)|(1<<5)|1, time 0, read-only | hidden
    + struct.pack("<IIHHHH", 0, 10, 0, (1 << 5) | 1, 0, 0x03) + b"dir\\empty\0"
    # cbFile 7, offset 3, iFolder 0xFFFE (continued to next -> last folder), UTF-8 name flag
    + struct.pack("<IIHHHH", 7, 3, 0xFFFE, 0, 0, 0x80 | 0x40) + "naïve€.txt".encode("utf-8") + b"\0"
)
assert len(CFHEADER) == 76 and len(CFHEADER + CFFOLDERS) == 98


def _open(data: bytes, name: str = "hand.cab") -> Cabinet:
    return Cabinet.open(io.BytesIO(data), name)


def test_header_fields_reserves_and_names():
    cab = _open(CFHEADER + CFFOLDERS + CFFILES)
    h = cab.header
    assert (h.cb_cabinet, h.coff_files, h.version_major, h.version_minor) == (0x1234, 98, 1, 3)
    assert (h.c_folders, h.c_files, h.flags, h.set_id, h.i_cabinet) == (2, 3, 7, 0xBEEF, 1)
    assert (h.cb_cf_header, h.cb_cf_folder, h.cb_cf_data) == (14, 3, 2)
    assert h.header_reserve == HEADER_RESERVE
    assert (h.prev_cabinet, h.prev_disk, h.next_cabinet, h.next_disk) == ("a.cab", "d1", "c.cab", "Disk 3")
    assert h.has_prev and h.has_next and h.reserve_present
    assert cab.anomalies == []


def test_folders():
    f0, f1 = _open(CFHEADER + CFFOLDERS + CFFILES).folders
    assert (f0.coff_cab_start, f0.c_cf_data, f0.reserve, f0.describe(), f0.window_bits) == (500, 4, b"F0r", "LZX:21", 21)
    assert (f1.coff_cab_start, f1.c_cf_data, f1.reserve, f1.describe()) == (900, 1, b"F1r", "MSZIP")


def test_files_continuation_dates_attributes_utf8():
    cab = _open(CFHEADER + CFFOLDERS + CFFILES)
    a, b, c = cab.files
    assert (a.name, a.cb_file, a.uoff_folder_start, a.i_folder) == ("first.txt", 10, 0, 0xFFFD)
    assert a.continued_from_prev and not a.continued_to_next and a.folder_index(2) == 0
    assert a.datetime == dt.datetime(2011, 5, 13, 21, 11, 54)
    assert (b.name, b.cb_file, b.attribs, b.datetime) == ("dir\\empty", 0, 3, dt.datetime(1980, 1, 1))
    assert c.name == "naïve€.txt" and c.continued_to_next and c.folder_index(2) == 1
    assert c.datetime is None  # date 0 has month 0: not a valid date


def test_members_of_a_lone_middle_cabinet():
    cab = _open(CFHEADER + CFFOLDERS + CFFILES)
    members = {m.name: m for m in cab.list_members()}
    assert members["first.txt"].continued_from_prev
    assert members["dir\\empty"].read_only and members["dir\\empty"].hidden
    assert members["naïve€.txt"].name_is_utf8 and members["naïve€.txt"].executable
    assert members["naïve€.txt"].compression == "MSZIP"


def test_codepage_names():
    files = struct.pack("<IIHHHH", 0, 0, 0, 0, 0, 0) + "Grüße".encode("cp1252") + b"\0"
    head = (b"MSCF" + struct.pack("<IIIIIBBHHHHH", 0, 0, 0, 44, 0, 3, 1, 1, 1, 0, 0, 0)
            + struct.pack("<IHH", 0, 0, 0))
    assert Cabinet.open(io.BytesIO(head + files)).files[0].name == "Grüße"
    cyr = struct.pack("<IIHHHH", 0, 0, 0, 0, 0, 0) + "файл".encode("cp1251") + b"\0"
    assert Cabinet.open(io.BytesIO(head + cyr), codepage=1251).files[0].name == "файл"


@pytest.mark.parametrize(
    "date,time,expected",
    [
        ((44 << 9) | (2 << 5) | 29, (23 << 11) | (59 << 5) | 29, dt.datetime(2024, 2, 29, 23, 59, 58)),
        ((127 << 9) | (12 << 5) | 31, 0, dt.datetime(2107, 12, 31)),
        ((0 << 9) | (13 << 5) | 1, 0, None),  # month 13
        ((0 << 9) | (1 << 5) | 1, (24 << 11), None),  # hour 24
    ],
)
def test_dos_datetime(date, time, expected):
    assert dos_datetime(date, time) == expected


def test_header_errors():
    data = CFHEADER + CFFOLDERS + CFFILES
    with pytest.raises(CabinetError, match="not a cabinet"):
        _open(b"MSCX" + data[4:])
    bad_folder = bytearray(data)
    # second CFFILE's iFolder (offset 98 + 16 + 10 + 8) -> folder 5 of 2
    struct.pack_into("<H", bad_folder, 98 + 26 + 8, 5)
    with pytest.raises(CabinetError, match="names folder 5, but the cabinet has 2"):
        _open(bytes(bad_folder))
    too_long = CFHEADER + CFFOLDERS + struct.pack("<IIHHHH", 0, 0, 0, 0, 0, 0) + b"x" * 300
    with pytest.raises(CabinetError, match="longer than 255"):
        _open(too_long)
    empty = CFHEADER + CFFOLDERS + struct.pack("<IIHHHH", 0, 0, 0, 0, 0, 0) + b"\0"
    with pytest.raises(CabinetError, match="empty name"):
        _open(empty)
    for cut in (0, 10, 36, 40, 60, 80, 98, 110, 120):
        with pytest.raises(CabinetError, match="truncated|not a cabinet") as info:
            _open(data[:cut], "cut.cab")
        assert str(info.value).startswith("cut.cab: ")


def test_coff_files_gap_is_an_anomaly():
    # CFFILEs 4 bytes after the folder table: readers disagree (libmspack #55)
    data = bytearray(CFHEADER + CFFOLDERS + b"JUNK" + CFFILES)
    struct.pack_into("<I", data, 16, 98 + 4)
    cab = _open(bytes(data))
    assert [f.name for f in cab.files] == ["first.txt", "dir\\empty", "naïve€.txt"]
    assert any("coffFiles=102" in a for a in cab.anomalies)


# --- checksum: libmspack's algorithm, re-stated independently ---
def _reference_checksum(data: bytes, seed: int) -> int:
    """One u32 at a time, then the 1-3 byte tail with the first byte most significant."""
    csum = seed
    whole = len(data) // 4 * 4
    for i in range(0, whole, 4):
        csum ^= data[i] | data[i + 1] << 8 | data[i + 2] << 16 | data[i + 3] << 24
    tail = 0
    for byte in data[whole:]:
        tail = (tail << 8) | byte
    return csum ^ tail


@pytest.mark.parametrize("size", [0, 1, 2, 3, 4, 5, 7, 8, 9, 31, 1000, 32771])
def test_checksum_matches_reference(size):
    data = bytes((i * 37 + 11) & 0xFF for i in range(size))
    assert fold(data) == _reference_checksum(data, 0)
    assert fold(data, 0xDEADBEEF) == _reference_checksum(data, 0xDEADBEEF)
    header = struct.pack("<HH", size & 0xFFFF, 32768)
    assert block_checksum(size & 0xFFFF, 32768, data) == _reference_checksum(header, _reference_checksum(data, 0))


def test_checksum_tail_order():
    # 3-byte tail 01 02 03 folds in as 0x010203 (not 0x030201)
    assert fold(b"\x01\x02\x03") == 0x010203
    # whole words are little-endian
    assert fold(b"\x01\x02\x03\x04") == 0x04030201


def _stored_cab(payload: bytes, csum: "int | None") -> bytes:
    """One stored folder, one block, one file: the bytes spelled out."""
    head = (b"MSCF" + struct.pack("<IIIIIBBHHHHH", 0, 0, 0, 44, 0, 3, 1, 1, 1, 0, 0, 0)
            + struct.pack("<IHH", 44 + 16 + 6, 1, 0))  # folder 0: data at 66, 1 block, no compression
    files = struct.pack("<IIHHHH", len(payload), 0, 0, 0, 0, 0x20) + b"f.txt\0"
    if csum is None:
        csum = _reference_checksum(struct.pack("<HH", len(payload), len(payload)), _reference_checksum(payload, 0))
    block = struct.pack("<IHH", csum, len(payload), len(payload)) + payload
    return head + files + block


def test_checksum_verified_on_read():
    good = _stored_cab(b"hello, cabinet", None)
    assert _open(good).read_member("f.txt") == b"hello, cabinet"
    assert _open(_stored_cab(b"hello, cabinet", 0)).read_member("f.txt") == b"hello, cabinet"  # 0 = absent
    bad = _stored_cab(b"hello, cabinet", 0x12345678)
    with pytest.raises(ChecksumError) as info:
        _open(bad, "bad.cab").read_member("f.txt", backend="python")
    text = str(info.value)
    assert text.startswith("bad.cab: ") and "data block 0 of folder 0" in text and "0x12345678" in text
    assert _open(bad).read_member("f.txt", backend="python", verify_checksums=False) == b"hello, cabinet"
