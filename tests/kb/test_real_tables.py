"""Every real published table under fixtures/kb/real/ parses to the JSON written by reading it by hand.

The expected files were written without msitools (fixtures/kb/real/SOURCES.md); they give, per
section, its title and platform and every row's values and printed cells.  ``note`` keys in
them are the reader's remarks and are not compared; the parser's own ``notes`` are checked
where a test below says so.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import FIXTURES

from msitools.cli import cli
from msitools.kb import parse_file

REAL = FIXTURES / "kb" / "real"
CASES = sorted(p for p in REAL.glob("*.expected.json"))
ROW_KEYS = ("name", "version", "size", "date", "date_iso", "time", "platform", "printed")
OPTIONAL_KEYS = ("date_month_day", "installed_name")


def _source(expected: Path) -> Path:
    stem = expected.name[: -len(".expected.json")]
    return next(p for p in (REAL / f"{stem}.md", REAL / f"{stem}.txt") if p.exists())


def test_the_corpus_is_large_enough():
    families = {json.loads(p.read_text())["source"]["family"] for p in CASES}
    tables = sum(len(json.loads(p.read_text())["sections"]) for p in CASES)
    assert tables >= 40 and len(families) >= 8, (tables, families)


@pytest.mark.parametrize("expected", CASES, ids=lambda p: p.name.split(".")[0])
def test_real_table_parses_exactly(expected: Path):
    want = json.loads(expected.read_text())
    got = parse_file(_source(expected)).to_dict()
    assert [(s["title"], len(s["rows"])) for s in got["sections"]] == \
        [(s["title"], len(s["rows"])) for s in want["sections"]]
    for section, wanted in zip(got["sections"], want["sections"]):
        assert section["platform"] == wanted["platform"], section["title"]
        for row, expected_row in zip(section["rows"], wanted["rows"]):
            assert not row["ambiguous"], row
            shown = {k: row.get(k) for k in ROW_KEYS}
            assert shown == {k: expected_row.get(k) for k in ROW_KEYS}, row["line"]
            for key in OPTIONAL_KEYS:
                assert row.get(key) == expected_row.get(key), (row["line"], key)


def _section_of(doc: dict, title: str) -> dict:
    return next(s for s in doc["sections"] if s["title"] == title)


def test_sections_carry_the_headings_around_them():
    sql = parse_file(REAL / "sql2016-rtm-cu1-kb3164674.md").to_dict()
    assert [(s["context"], s["platform"]) for s in sql["sections"][:3]] == [("x86-based versions", "x86")] * 3
    assert {s["context"] for s in sql["sections"][3:]} == {"x64-based versions"}
    exchange = parse_file(REAL / "oldkb-exchange55-q192940.txt").to_dict()
    assert [s["context"] for s in exchange["sections"]] == ["Exchange Server 5.0", "Exchange Server 5.5"]
    windows = parse_file(REAL / "win7-kb981506.md").to_dict()
    extra = _section_of(windows, "Additional files for all supported x64-based versions of Windows 7 and of "
                                 "Windows Server 2008 R2")
    assert extra["context"].startswith("Additional file information > ")


def test_sql_2017_cu17_day_month_dates(tmp_path):
    result = CliRunner().invoke(cli, ["kb", "parse", str(REAL / "sql2017-cu17-kb4515579.md"), "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)["rows"]
    assert len(rows) == 653
    assert {r["date"] for r in rows} >= {"14-9"} and all(r["date_iso"] is None for r in rows)
    assert rows[0]["date_month_day"] == "09-14"


def test_sql_2022_cu20_markdown_escapes():
    rows = parse_file(REAL / "sql2022-cu20-kb5059390.md").rows
    names = {r.name for r in rows}
    assert "Private_odbc32.dll" in names and not any("\\" in n for n in names)
    assert any("\\_" in r.printed["name"] for r in rows)


def test_what_is_printed_without_an_exact_value_is_noted():
    vb5 = parse_file(REAL / "oldkb-vb5-q307191.txt").rows[0]
    assert vb5.size is None and vb5.printed["size"] == "87.5 KB" and "not an exact byte count" in vb5.notes[0]
    sms = parse_file(REAL / "oldkb-sms12-q249151.txt").rows[0]
    assert sms.time is None and "placeholder" in sms.notes[0]
    win9x = parse_file(REAL / "oldkb-win9x-q258070.txt").rows[0]
    assert win9x.platform is None and win9x.printed["platform"] == "Windows 98 Second Edition"
    moss = [r for r in parse_file(REAL / "sharepoint-ms07-059-de.md").rows if r.printed.get("size") == "3.011112"]
    assert moss and moss[0].size == 3_011_112 and "separator is missing" in moss[0].notes[0]
