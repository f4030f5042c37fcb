"""Table shapes of migrated articles: spacer rows, per-file blocks, <br> in names, fixed-width listings.

Each shape that is recognised as a file table either reads right or is an error naming
the line: never a silently short or garbled result.
"""
from __future__ import annotations

import pytest

from msitools.errors import KbParseError
from msitools.kb import parse_table

HEADER = "|File name|File version|File size|Date|Time|Platform|\n|---|---|---|---|---|---|\n"


def names(text: str) -> "list[str | None]":
    return [r.name for r in parse_table(text).rows]


def test_spacer_rows_are_skipped():
    text = HEADER + "| | | | | | |\n|A.dll|1.0|10|14-Sep-2019|10:00|x86|\n||||||\n|B.dll|1.0|11|14-Sep-2019|10:00|x86|\n"
    assert names(text) == ["A.dll", "B.dll"]


def test_a_garbled_row_in_a_file_table_is_an_error_naming_its_line():
    text = HEADER + "|A.dll|1.0|10|14-Sep-2019|10:00|x86|\n|B.dll|1.0|ten|14-Sep-2019|10:00|x86|\n"
    with pytest.raises(KbParseError, match="line 4: invalid file size 'ten'"):
        parse_table(text)


def test_transposed_blocks_give_one_row_each():
    text = ("|File name|Update.mum|\n|---|---|\n|File version|Not applicable|\n|File size|1,674|\n"
            "|Date (UTC)|13-Mar-2010|\n|Time (UTC)|10:55|\n|Platform|Not applicable|\n||\n"
            "|File name|X.manifest|\n|File version|Not applicable|\n|File size|691|\n|Date (UTC)|13-Mar-2010|\n"
            "|Time (UTC)|10:55|\n|Platform|Not applicable|\n")
    rows = parse_table(text).rows
    assert [(r.name, r.size, r.time) for r in rows] == [("Update.mum", 1674, "10:55"), ("X.manifest", 691, "10:55")]


@pytest.mark.parametrize("bad, message", [
    ("|File colour|red|\n", "unknown label 'File colour'"),
    ("|File size|1,674|\n", "names its size twice"),
    ("|File version|one|\n", "invalid file version 'one'"),
])
def test_a_per_file_block_that_cannot_be_read_is_an_error(bad, message):
    text = "|File name|Update.mum|\n|---|---|\n|File size|1,674|\n" + bad
    with pytest.raises(KbParseError, match=message):
        parse_table(text)


def test_br_joins_a_split_file_name_without_a_space():
    text = HEADER + "|Amd64_abc_31bf3856ad364e35_<br/>6.0.6002.22774_none_d5f9.manifest|Not applicable|714|" \
                    "09-Jan-2012|20:11|Not applicable|\n"
    row = parse_table(text).rows[0]
    assert row.name == "Amd64_abc_31bf3856ad364e35_6.0.6002.22774_none_d5f9.manifest"
    assert "<br/>" in row.printed["name"]


def test_fixed_width_listing_with_blank_versions_and_a_wrapped_platform():
    text = ("  Date        Time    Version     Size     File name     Platform\n"
            "  ------------------------------------------------------------------\n"
            "  06/23/2000  08:28p  4.0.1381.7  42,256   Regacl40.exe  Intel\n"
            "  06/23/2000  08:28p                 67   Setup.ini\n"
            "  06/23/2000  08:28p  4.0.1381.7  42,256   User.exe      Windows 98\n"
            "                                                         Second Edition\n")
    rows = parse_table(text).rows
    assert [(r.name, r.version, r.size, r.time, r.platform) for r in rows] == [
        ("Regacl40.exe", "4.0.1381.7", 42256, "20:28", "x86"), ("Setup.ini", None, 67, "20:28", None),
        ("User.exe", "4.0.1381.7", 42256, "20:28", None)]
    assert rows[2].printed["platform"] == "Windows 98 Second Edition"
    assert parse_table(text).tables[0].format == "fixed"


def test_a_listing_line_that_looks_like_a_row_but_does_not_fit_is_an_error():
    text = ("Date         Time   Version     Size     File name\n"
            "--------------------------------------------------\n"
            "01-Mar-2001  19:20  2.0.0.1     394,970  Apasetup.exe\n"
            "01-Mar-2001  19:20  2.0.0.1     lots     Other.exe\n")
    with pytest.raises(KbParseError, match="line 4"):
        parse_table(text)
