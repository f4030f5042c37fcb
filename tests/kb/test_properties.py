"""Properties: rows rendered by these tests are read back; glued rows always offer the truth;
arbitrary input raises nothing but MsiToolsError."""
from __future__ import annotations

import csv
import datetime
import html
import io

from hypothesis import given, settings
from hypothesis import strategies as st

from msitools.errors import MsiToolsError
from msitools.kb import parse_table

MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
PLATFORMS = ["x86", "x64", "IA-64", "ARM64", "Not Applicable"]
HEADER = ["File name", "File version", "File size", "Date", "Time", "Platform"]

names = st.from_regex(r"[A-Za-z][A-Za-z0-9_.~-]{0,12}\.(dll|exe|sys|msi|msp|cat|mui|manifest)", fullmatch=True)
versions = st.one_of(
    st.just("Not Applicable"),
    st.lists(st.integers(0, 65535), min_size=1, max_size=4).map(lambda parts: ".".join(map(str, parts))),
)
dates = st.dates(datetime.date(1995, 1, 1), datetime.date(2035, 12, 31))
rows = st.tuples(names, versions, st.integers(0, 10**10), dates, st.integers(0, 23), st.integers(0, 59),
                 st.sampled_from(PLATFORMS))


def cells(row) -> list[str]:
    name, version, size, date, hour, minute, platform = row
    return [name, version, f"{size:,}", f"{date.day:02d}-{MONTHS[date.month - 1]}-{date.year}",
            f"{hour:02d}:{minute:02d}", platform]


def expected(row) -> tuple:
    name, version, size, date, hour, minute, platform = row
    return (name, version, size, date.isoformat(), f"{hour:02d}:{minute:02d}", platform)


def got(table) -> list[tuple]:
    return [(r.name, r.version, r.size, r.date_iso, r.time, r.platform) for r in table.rows]


def render(fmt: str, table: list[list[str]]) -> str:
    if fmt == "tab":
        return "\n".join("\t".join(c) for c in table) + "\n"
    if fmt == "spaced":
        return "\n".join("   ".join(c) for c in table) + "\n"
    if fmt == "csv":
        out = io.StringIO()
        csv.writer(out, quoting=csv.QUOTE_MINIMAL, lineterminator="\n").writerows(table)
        return out.getvalue()
    if fmt == "markdown":
        lines = ["| " + " | ".join(c) + " |" for c in table]
        lines.insert(1, "|" + "---|" * len(table[0]))
        return "\n".join(lines) + "\n"
    if fmt == "html":
        body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>\n" for r in table)
        return f"<h4>Files</h4>\n<table>\n{body}</table>\n"
    raise AssertionError(fmt)


@settings(deadline=None, max_examples=150)
@given(st.lists(rows, min_size=1, max_size=6), st.sampled_from(["tab", "spaced", "csv", "markdown", "html"]),
       st.permutations(range(6)))
def test_delimited_round_trip(table_rows, fmt, order):
    table = [[HEADER[i] for i in order]] + [[cells(r)[i] for i in order] for r in table_rows]
    parsed = parse_table(render(fmt, table))
    assert got(parsed) == [expected(r) for r in table_rows]
    assert not parsed.ambiguous_rows


@settings(deadline=None, max_examples=300)
@given(rows)
def test_a_glued_row_always_offers_the_truth(row):
    text = "".join(HEADER) + "\n" + "".join(cells(row)) + "\n"
    (parsed,) = parse_table(text).rows
    truth = expected(row)
    if parsed.ambiguous:
        assert truth in {(x.name, x.version, x.size, x.date_iso, x.time, x.platform) for x in parsed.readings}
    else:
        assert (parsed.name, parsed.version, parsed.size, parsed.date_iso, parsed.time, parsed.platform) == truth


@settings(deadline=None, max_examples=300)
@given(st.text(max_size=400))
def test_arbitrary_text_raises_only_our_errors(text):
    try:
        parse_table(text)
    except MsiToolsError:
        pass


line_bits = st.sampled_from(["File name", "File version", "File size", "Date", "Time", "Platform", "\t", ",",
                             "|", "  ", " ", "x86", "Not Applicable", "01-Feb-2010", "16:35", "1,234", "a.dll",
                             "4.0.6487.2192", "<table>", "<tr>", "<td>", "<th>", "</tr>", "\n", "&amp;", "---"])


@settings(deadline=None, max_examples=300)
@given(st.lists(line_bits, max_size=60).map("".join))
def test_table_like_noise_raises_only_our_errors(text):
    try:
        parse_table(text)
    except MsiToolsError:
        pass
