"""Renderers of info, tables, table and streams, on a report built directly (no command line)."""
from __future__ import annotations

import csv
import io

import pytest
from conftest import FIXTURES

from msitools.db.package import open_package
from msitools.describe import TableReport, package_info, streams_list, tables_list
from msitools.errors import UsageError
from msitools.render.package import info_text, streams_csv, table_csv, table_idt, table_text, tables_csv, tables_text

BASE = FIXTURES / "patches" / "base.msi"


def test_info_text_lists_kind_summary_and_tables():
    with open_package(BASE) as pkg:
        text = info_text(package_info(pkg))
    assert text.splitlines()[0].endswith(": MSI")
    assert "Summary information:" in text and "File" in text


def test_tables_text_and_csv_agree():
    with open_package(BASE) as pkg:
        data = tables_list(pkg)
    rows = list(csv.reader(io.StringIO(tables_csv(data))))
    assert rows[0] == ["name", "rows", "columns"]
    names = {r[0] for r in rows[1:]}
    assert names == {t["name"] for t in data["tables"]}
    assert all(name in tables_text(data) for name in names)


def test_table_formats():
    with open_package(BASE) as pkg:
        report = TableReport.of(pkg.table("File"))
    assert table_text(report).splitlines()[0].split()[:2] == ["File", "Component_"]
    assert list(csv.reader(io.StringIO(table_csv(report))))[0][0] == "File"
    idt = table_idt(report)
    assert idt.split("\r\n")[2].startswith("File\tFile")


def test_idt_refuses_a_patched_view():
    report = TableReport("File", [], [], ops=[], action=None)
    with pytest.raises(UsageError):
        table_idt(report)


def test_streams_csv():
    with open_package(BASE) as pkg:
        data = streams_list(pkg)
    assert streams_csv(data).splitlines()[0] == "name,size"
