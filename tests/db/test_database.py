"""Unit tests with small annotated byte fixtures: stream names, string pool, column types, tables."""
from __future__ import annotations

import random
import struct

import pytest

from msitools.base._pymsi import reference_stream_name_codec
from msitools.db.columns import Column, type_word_from_idt
from msitools.errors import LimitExceeded, StringPoolError, TableError
from msitools.limits import Limits
from msitools.container.streamname import decode_stream_name, encode_stream_name
from msitools.db.stringpool import StringPool
from msitools.db.table import decode_columns


def units(name: str, table: bool) -> "list[int]":
    return [ord(c) for c in encode_stream_name(name, table)]


# -- stream names: vectors from FORMATS.md §1.1 (identical to Wine's tests) ---------
@pytest.mark.parametrize("name,table,expected", [
    ("_Columns", True, [0x4840, 0x3B3F, 0x43F2, 0x4438, 0x45B1]),
    ("_Tables", True, [0x4840, 0x3F7F, 0x4164, 0x422F, 0x4836]),
    ("_StringData", True, [0x4840, 0x3F3F, 0x4577, 0x446C, 0x3B6A, 0x45E4, 0x4824]),
    ("_StringPool", True, [0x4840, 0x3F3F, 0x4577, 0x446C, 0x3E6A, 0x44B2, 0x482F]),
    ("File", True, [0x4840, 0x430F, 0x422F]),
    ("Media", True, [0x4840, 0x4216, 0x4327, 0x4824]),
    ("CAB_msitest", False, [0x3A8C, 0x47CB, 0x45B0, 0x45EC, 0x45A8, 0x4837]),
    ("App.exe", False, [0x44CA, 0x47B3, 0x46E8, 0x4828]),
])
def test_stream_name_vectors(name, table, expected):
    assert units(name, table) == expected
    assert decode_stream_name(encode_stream_name(name, table)) == (name, table)


def test_stream_name_codec_agrees_with_pymsi():
    encode_ref, decode_ref = reference_stream_name_codec()
    rng = random.Random(7)
    alphabet = "abcXYZ019._-#$ é"
    for _ in range(500):
        name = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 40)))
        for table in (False, True):
            ours = encode_stream_name(name, table)
            assert ours == encode_ref(name, table)
            assert decode_stream_name(ours) == decode_ref(ours)


# -- column type words: FORMATS.md §1.3 table ------------------------------------
@pytest.mark.parametrize("idt,key,word,kind", [
    ("s72", False, 0x0D48, "string"), ("S72", False, 0x1D48, "string"), ("s72", True, 0x2D48, "string"),
    ("S38", True, 0x3D26, "string"), ("s0", False, 0x0D00, "string"), ("l255", False, 0x0FFF, "string"),
    ("L255", False, 0x1FFF, "string"), ("l0", False, 0x0F00, "string"),
    ("i2", False, 0x0502, "integer"), ("I2", False, 0x1502, "integer"), ("i2", True, 0x2502, "integer"),
    ("i4", False, 0x0104, "integer"), ("I4", False, 0x1104, "integer"), ("i4", True, 0x2104, "integer"),
    ("v0", False, 0x0900, "binary"), ("V0", False, 0x1900, "binary"),
])
def test_type_words(idt, key, word, kind):
    assert type_word_from_idt(idt, key) == word
    column = Column("c", word)
    assert column.kind == kind
    assert column.idt_type == idt
    assert column.key is key
    assert column.nullable is idt[0].isupper()


def test_cell_sizes():
    assert Column("s", 0x0D48).cell_size(2) == 2
    assert Column("s", 0x0D48).cell_size(3) == 3
    assert Column("i", 0x0502).cell_size(3) == 2
    assert Column("i", 0x0104).cell_size(3) == 4
    assert Column("v", 0x1900).cell_size(3) == 2
    # a binary-looking word with the key bit is a string column (Wine's MSITYPE_IS_BINARY)
    assert Column("k", 0x2900).kind == "string"
    # integer columns declared with width 1 are stored as 2 bytes
    assert Column("b", 0x0501).cell_size(2) == 2


# -- string pool: FORMATS.md §1.2 -------------------------------------------------
def pool_bytes(codepage: int, slots: "list[tuple[int, int]]", long_refs: bool = False) -> bytes:
    header = codepage | (0x80000000 if long_refs else 0)
    return struct.pack("<I", header) + b"".join(struct.pack("<HH", a, b) for a, b in slots)


def test_string_pool_basic():
    pool = StringPool.parse(
        pool_bytes(1252, [(4, 1),        # id 1: "File"  (refcount 1)
                          (0, 0),        # id 2: unused
                          (3, 2)]),      # id 3: "abc" (refcount 2)
        b"File" + b"abc")
    assert pool.codepage == 1252 and pool.ref_size == 2
    assert [pool[i] for i in range(4)] == [None, "File", None, "abc"]
    assert pool.refcounts == [0, 1, 0, 2]


def test_string_pool_long_string_and_long_refs():
    big = b"x" * 70000  # > 64 KiB: length 0 + refcount, then a u32 length slot
    pool = StringPool.parse(
        pool_bytes(65001, [(2, 1),                       # id 1: "hi"
                           (0, 3), (70000 & 0xFFFF, 70000 >> 16),  # id 2: the long string
                           (3, 1)],                      # id 3: "\u00e9!" in UTF-8 = C3 A9 21
                   long_refs=True),
        b"hi" + big + "\u00e9!".encode("utf-8"))
    assert pool.ref_size == 3
    assert pool[1] == "hi" and pool[2] == "x" * 70000 and pool[3] == "\u00e9!"
    assert len(pool) == 4


def test_string_pool_codepage_932():
    text = "\u30c6\u30b9\u30c8"  # katakana "tesuto"
    raw = text.encode("cp932")
    pool = StringPool.parse(pool_bytes(932, [(len(raw), 1)]), raw)
    assert pool[1] == text


def test_string_pool_errors():
    with pytest.raises(StringPoolError, match="too short"):
        StringPool.parse(pool_bytes(1252, [(10, 1)]), b"short")
    with pytest.raises(StringPoolError, match="multiple of 4"):
        StringPool.parse(b"\xe4\x04\x00\x00\x01", b"")
    with pytest.raises(StringPoolError, match="long-string"):
        StringPool.parse(pool_bytes(1252, [(0, 1)]), b"")
    with pytest.raises(LimitExceeded):
        StringPool.parse(pool_bytes(1252, [(1, 1)] * 10), b"a" * 10, limits=Limits(pool_strings=5))


def test_string_pool_extra_data_is_an_issue_not_an_error():
    pool = StringPool.parse(pool_bytes(1252, [(1, 1)]), b"ab")
    assert pool[1] == "a"
    assert any("more than the pool uses" in i for i in pool.issues)


# -- tables: column-major cells, FORMATS.md §1.4 -------------------------------------
FILE_COLUMNS = [
    Column("File", type_word_from_idt("s72", True), 1),
    Column("Size", type_word_from_idt("i4"), 2),
    Column("Attr", type_word_from_idt("I2"), 3),
    Column("Data", type_word_from_idt("V0"), 4),
]


def test_table_column_major_decoding():
    pool = StringPool.parse(pool_bytes(1252, [(1, 1), (1, 1)]), b"ab")
    raw = (struct.pack("<HH", 1, 2)                               # File: "a", "b"
           + struct.pack("<II", 1002 ^ 0x80000000, (-5) & 0xFFFFFFFF ^ 0x80000000)  # Size: 1002, -5
           + struct.pack("<HH", 0, 0x8000 - 3)                     # Attr: NULL, -3
           + struct.pack("<HH", 1, 0))                             # Data: present, absent
    cols = decode_columns("T", FILE_COLUMNS, raw, pool)
    rows = list(zip(*cols))
    assert rows == [("a", 1002, None, "T.a"), ("b", -5, -3, None)]


def test_table_three_byte_string_refs():
    columns = [Column("K", type_word_from_idt("s72", True), 1), Column("N", type_word_from_idt("i2"), 2)]
    slots = [(1, 1)] * 3
    pool = StringPool.parse(pool_bytes(1252, slots, long_refs=True), b"xyz")
    # two rows; each string ref is 3 little-endian bytes (as Wine stores them), then the i2 column
    raw = bytes([3, 0, 0, 1, 0, 0]) + struct.pack("<HH", 0x8001, 0x8002)
    rows = list(zip(*decode_columns("T", columns, raw, pool)))
    assert rows == [("z", 1), ("x", 2)]


def test_three_byte_refs_above_65535():
    columns = [Column("K", type_word_from_idt("s72", True), 1)]
    n = 0x10002
    pool = StringPool.parse(pool_bytes(1252, [(1, 1)] * n, long_refs=True), b"a" * (n - 1) + b"z")
    raw = (0x10002).to_bytes(3, "little") + (1).to_bytes(3, "little")
    rows = list(zip(*decode_columns("T", columns, raw, pool)))
    assert rows == [("z",), ("a",)]


def test_table_errors():
    pool = StringPool.parse(pool_bytes(1252, [(1, 1)]), b"a")
    with pytest.raises(TableError, match="not a multiple of the row width"):
        decode_columns("T", FILE_COLUMNS, b"\x00" * 13, pool)
    raw = struct.pack("<H", 9) + b"\x00" * 8  # one 10-byte row whose File id is 9
    with pytest.raises(TableError, match="string id 9 is out of range"):
        decode_columns("T", FILE_COLUMNS, raw, pool)
