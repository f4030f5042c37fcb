"""Errors: what is reported, with which line, and what merely ends a table."""
from __future__ import annotations

import dataclasses

import pytest

import msitools.kb as kb
from msitools.errors import KbParseError, LimitExceeded, MsiToolsError, UsageError
from msitools.kb import parse_file, parse_table
from msitools.limits import DEFAULT_LIMITS

TAB_HEADER = "File name\tFile version\tFile size\tDate\n"


def error_of(text: str, source: str = "t.txt", **kw) -> str:
    with pytest.raises(KbParseError) as info:
        parse_table(text, source=source, **kw)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{source}: ")
    return message


def test_no_table():
    message = error_of("Hotfix information\n\nA supported hotfix is available.\n", source="notes.txt")
    assert message.startswith("notes.txt: no file-information table found")


def test_prose_mentioning_file_name_is_not_a_header():
    error_of("The file name and the file version are listed below.\nFile name: Tscore.dll\n")


def test_header_without_rows():
    message = error_of(TAB_HEADER + "\nThis table intentionally left blank.\n")
    assert message == "t.txt: line 1: table header has no rows: 'File name File version File size Date'"


def test_html_header_without_rows():
    message = error_of("<p>x</p>\n<table>\n<tr><th>File name</th><th>File size</th><th>Date</th></tr>\n</table>\n")
    assert message == "t.txt: line 3: table header has no rows: 'File name | File size | Date'"


def test_bad_size_names_the_line_and_content():
    message = error_of(TAB_HEADER + "Foo.dll\t1.0\t1,234\t01-Feb-2010\nBar.dll\t1.0\t12,34\t01-Feb-2010\n")
    assert message == "t.txt: line 3: invalid file size '12,34': 'Bar.dll 1.0 12,34 01-Feb-2010'"


def test_missing_cell():
    message = error_of(TAB_HEADER + "Foo.dll\t1.0\t1,234\n")
    assert message == "t.txt: line 2: row has 3 cells, the header has 4: 'Foo.dll 1.0 1,234'"


def test_malformed_row_after_a_blank_line_is_still_an_error():
    message = error_of(TAB_HEADER + "Foo.dll\t1.0\t1,234\t01-Feb-2010\n\nBar.dll\tv2\t1\t01-Feb-2010\n")
    assert message.startswith("t.txt: line 4: invalid file version 'v2'")


def test_markdown_impossible_date():
    text = ("| File name | File version | File size | Date |\n|---|---|---|---|\n"
            "| Foo.dll | 1.0 | 1,234 | 31-Feb-2010 |\n")
    assert error_of(text).startswith("t.txt: line 3: invalid date '31-Feb-2010'")


def test_csv_errors():
    header = "File name,File version,File size,Time,Platform\n"
    assert "invalid file version '1.0.0.70000'" in error_of(header + "Foo.dll,1.0.0.70000,12,10:00,x86\n")
    assert "invalid time '25:00'" in error_of(header + "Foo.dll,1.0,12,25:00,x86\n")
    assert "unknown platform 'sparc'" in error_of(header + "Foo.dll,1.0,12,10:00,sparc\n")
    assert "empty file name" in error_of(header + ",1.0,12,10:00,x86\n")
    # an unquoted size that is not a valid thousands group cannot be rejoined
    assert "row has 6 cells, the header has 5" in error_of(header + "Foo.dll,1.0,1,23,10:00,x86\n")


def test_squashed_row_that_fits_no_reading():
    text = "File nameFile versionFile sizeDateTimePlatform\nFoo.dll1.0.0.1zzz01-Feb-201016:35x86\n"
    message = error_of(text)
    assert message.startswith("t.txt: line 2: no reading of the glued cells fits the columns "
                              "name version size date time platform: ")
    assert message.endswith("'Foo.dll1.0.0.1zzz01-Feb-201016:35x86'")


def test_squashed_unknown_platform():
    text = "File nameFile versionFile sizeDateTimePlatform\nFoo.dll1.0.0.11,23401-Feb-201016:35mips\n"
    assert error_of(text).startswith("t.txt: line 2: no reading")


def test_html_row_error_names_the_tr_line():
    text = (
        "<table>\n"
        "<tr><th>File name</th><th>File size</th><th>Platform</th></tr>\n"
        "<tr><td>A.dll</td><td>10</td><td>x86</td></tr>\n"
        "<tr><td>B.dll</td><td>10</td><td>sparc</td></tr>\n"
        "</table>\n"
    )
    assert error_of(text) == "t.txt: line 4: unknown platform 'sparc' (expected one of x86, x64, IA-64, ARM64, " \
                             "Alpha, Not Applicable): 'B.dll | 10 | sparc'"


def test_html_row_with_too_many_cells():
    text = ("<table><tr><th>File name</th><th>File size</th><th>Platform</th></tr>\n"
            "<tr><td>A.dll</td><td>10</td><td>x86</td><td>extra</td></tr></table>")
    assert error_of(text) == "t.txt: line 2: row has 4 cells, the header has 3: 'A.dll | 10 | x86 | extra'"


def test_duplicate_header_column():
    message = error_of("File name\tFile size\tSize\tDate\nA.dll\t1\t1\t01-Feb-2010\n")
    assert message == "t.txt: line 1: header names the size column twice: 'File name | File size | Size | Date'"


def test_prose_after_a_table_ends_it():
    csv_text = "File name,File size,Date\nA.dll,\"1,024\",01-Feb-2010\nNote, however, that sizes may vary.\n"
    assert [r.size for r in parse_table(csv_text).rows] == [1_024]
    tab_text = TAB_HEADER + "A.dll\t1.0\t1\t01-Feb-2010\nNote\tsee below\nStatus\n"
    assert [r.name for r in parse_table(tab_text).rows] == ["A.dll"]
    glued = "File nameFile versionFile sizeDateTimePlatform\nA.dll1.01,02401-Feb-201016:35x86\n↑ Back to the top\n"
    assert [r.size for r in parse_table(glued).rows] == [1_024]


def test_unknown_format_is_a_usage_error():
    with pytest.raises(UsageError, match="unknown table format 'xml'"):
        parse_table("File name\tFile size\n", format="xml")


def test_missing_file(tmp_path):
    path = tmp_path / "absent.txt"
    with pytest.raises(KbParseError) as info:
        parse_file(path)
    assert str(info.value).startswith(f"{path}: cannot read file")


def test_too_many_readings():
    text = "File nameFile versionFile sizeDateTimePlatform\nTscore.dll4.0.6487.21921,172,32801-Feb-201016:35x86\n"
    with pytest.raises(KbParseError) as info:
        parse_table(text, source="t.txt", limits=dataclasses.replace(DEFAULT_LIMITS, kb_readings_per_row=2))
    assert str(info.value).startswith("t.txt: line 2: squashed row has more than 2 possible readings")


def test_document_size_limit(tmp_path):
    small = dataclasses.replace(DEFAULT_LIMITS, kb_document_size=10)
    with pytest.raises(LimitExceeded):
        parse_table("File name\tFile size\n", limits=small)
    path = tmp_path / "big.txt"
    path.write_text("File name\tFile size\tDate\nA.dll\t1\t01-Feb-2010\n")
    with pytest.raises(LimitExceeded) as info:
        parse_file(path, limits=small)
    assert str(info.value).startswith(str(path))


def test_errors_belong_to_the_hierarchy():
    assert issubclass(KbParseError, MsiToolsError)
    with pytest.raises(MsiToolsError):
        parse_table("<table><tr><td>no header</td></tr></table>")
