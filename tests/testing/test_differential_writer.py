"""Writer-built packages read by both msidump (independent) and our reader: the two readers must agree.

Covers the hard cases the corpus lacks: codepages 932/65001/1251, a string over
64 KiB, more than 65,535 strings (3-byte references), binary cells, _Validation.
"""
from __future__ import annotations

import os
import subprocess

import pytest

from msitools.db import idt
from msitools import open_package
from msitools.testing.writer.database import DatabaseBuilder

from conftest import require_tool


def build_codepage(codepage: int, words: "list[str]") -> DatabaseBuilder:
    db = DatabaseBuilder(codepage=codepage)
    db.add_table("Property", [("Property", "s72", True), ("Value", "l0", False)])
    for i, word in enumerate(words):
        db.add_row("Property", f"P{i}", word)
    return db


def build_long_refs() -> DatabaseBuilder:
    db = DatabaseBuilder()
    db.add_table("Registry", [("Registry", "s72", True), ("Root", "i2", False), ("Key", "s255", False),
                              ("Name", "S255", False), ("Value", "S0", False), ("Component_", "s72", False)])
    for i in range(35_000):
        db.add_row("Registry", f"reg{i:05d}", i % 4, f"Software\\Vendor\\Key{i}", None, f"value {i}", "C")
    return db


def build_long_string_and_binary() -> DatabaseBuilder:
    db = DatabaseBuilder()
    db.add_table("Property", [("Property", "s72", True), ("Value", "l0", False)])
    db.add_row("Property", "EULA", "license text " * 6000)   # 78,000 bytes: the two-slot long string form
    db.add_row("Property", "Short", "x")
    db.add_table("Binary", [("Name", "s72", True), ("Data", "v0", False)])
    db.add_row("Binary", "Blob", b"\x00\x01binary payload")
    db.add_table("Numbers", [("Id", "i2", True), ("Big", "I4", False), ("Small", "I2", False)])
    for i, (big, small) in enumerate([(0, 0), (-1, -1), (2**31 - 1, 32767), (-2**31 + 1, -32767), (None, None)]):
        db.add_row("Numbers", i - 2, big, small)
    db.enable_validation()
    return db


CASES = {
    "cp932": lambda: build_codepage(932, ["\u30c6\u30b9\u30c8", "\u65e5\u672c\u8a9e", "ascii"]),
    "cp65001": lambda: build_codepage(65001, ["\u00e9t\u00e9", "\u4e2d\u6587", "\U0001f600 emoji"]),
    "cp1251": lambda: build_codepage(1251, ["\u041f\u0440\u0438\u0432\u0435\u0442", "plain"]),
    "long-refs": build_long_refs,
    "long-string-binary-validation": build_long_string_and_binary,
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_writer_package_read_alike_by_msidump_and_us(case, tmp_path):
    msidump = require_tool("msidump")
    path = tmp_path / f"{case}.msi"
    CASES[case]().write(path, "msi")
    ref = tmp_path / "ref"
    ref.mkdir()
    subprocess.run([msidump, "-t", "-d", str(ref), str(path)], check=True, capture_output=True,
                   env={**os.environ, "TZ": "UTC"}, cwd=ref)
    with open_package(path) as pkg:
        tables = {t.name: idt.table_text(t.name, t.columns, t.rows) for t in pkg.tables()}
        if case == "long-refs":
            assert pkg.database.pool.long_refs
    if case == "long-string-binary-validation":
        with open_package(path) as pkg:
            rules = pkg.database.validation()
        assert ("Numbers", "Big") in rules and rules[("Property", "Property")]["Nullable"] == "N"
    for name, text in tables.items():
        theirs = (ref / f"{name}.idt").read_bytes().decode("utf-8")
        assert text == theirs, f"{case}: table {name} differs from msidump"
