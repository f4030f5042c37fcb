"""The cell grammar: every printed form the issue names, and what is refused."""
from __future__ import annotations

import pytest

from msitools.kb.cells import CellError, read_date, read_platform, read_size, read_time, slash_order


@pytest.mark.parametrize("text, iso, month_day", [
    ("14-Sep-2019", "2019-09-14", None),
    ("1-Feb-2010", "2010-02-01", None),
    ("12-Jul-16", "2016-07-12", None),
    ("28-Oct-19", "2019-10-28", None),
    ("20-June-2015", "2015-06-20", None),
    ("2019-09-14", "2019-09-14", None),
    ("14.09.2019", "2019-09-14", None),
    ("11/19/2001", "2001-11-19", None),
    ("03/23/00", "2000-03-23", None),
    ("11-nov-2004", "2004-11-11", None),
    ("13-Mär-2007", "2007-03-13", None),
    ("04-mei-2005", "2005-05-04", None),
    ("07-déc-2006", "2006-12-07", None),
    ("02-Dez-2006", "2006-12-02", None),
    ("14-9", None, "09-14"),
    ("29-2", None, "02-29"),
    ("31-Dec-99", "1999-12-31", None),
])
def test_dates(text, iso, month_day):
    value = read_date(text)
    assert (value.text, value.iso, value.month_day) == (text, iso, month_day)


@pytest.mark.parametrize("text", ["31-Feb-2010", "14-Foo-2019", "32-1", "2019-13-01", "yesterday", "1/2"])
def test_bad_dates(text):
    with pytest.raises(CellError):
        read_date(text)


def test_slash_dates_read_by_the_table():
    assert slash_order(["03/23/00", "04/07/00"]) == "mdy"
    assert slash_order(["23/03/2000", "04/07/2000"]) == "dmy"
    assert read_date("04/07/2000", "dmy").iso == "2000-07-04"
    with pytest.raises(CellError):
        slash_order(["23/03/2000", "03/23/2000"])


@pytest.mark.parametrize("text, value", [
    ("16:35", "16:35"), ("1:00", "01:00"), ("16:35:12", "16:35:12"), ("08:28p", "20:28"), ("12:22p", "12:22"),
    ("12:10a", "00:10"), ("11:02am", "11:02"), ("1:05 PM", "13:05"), ("xx:xx", None),
])
def test_times(text, value):
    assert read_time(text)[0] == value


@pytest.mark.parametrize("text", ["25:00", "13:05p", "16.35", "noon"])
def test_bad_times(text):
    with pytest.raises(CellError):
        read_time(text)


@pytest.mark.parametrize("text, size, noted", [
    ("1172328", 1172328, False), ("1,172,328", 1172328, False), ("1.172.328", 1172328, False),
    ("1 172 328", 1172328, False), ("1\u202f172\u202f328", 1172328, False), ("1'172'328", 1172328, False),
    ("3.011112", 3011112, True), ("87.5 KB", None, True), ("0", 0, False),
])
def test_sizes(text, size, noted):
    value, note = read_size(text)
    assert value == size and bool(note) == noted


@pytest.mark.parametrize("text", ["1.5", "1,17,328", "1,172.328", "12 KBx", "-5", "1.0000"])
def test_sizes_that_are_not_byte_counts_are_refused(text):
    with pytest.raises(CellError):
        read_size(text)


@pytest.mark.parametrize("text, platform", [
    ("x86", "x86"), ("Intel", "x86"), ("i386", "x86"), ("(x86)", "x86"), ("amd64", "x64"), ("X64", "x64"),
    ("ia64", "IA-64"), ("Itanium", "IA-64"), ("ARM64", "ARM64"), ("Alpha", "Alpha"),
    ("Not applicable", "Not Applicable"), ("Nicht verfügbar", "Not Applicable"), ("Windows 98", None),
])
def test_platforms(text, platform):
    assert read_platform(text)[0] == platform


def test_an_unknown_platform_is_refused():
    with pytest.raises(CellError):
        read_platform("sparc")
