"""Tables in text documents (Markdown, tab-separated, CSV, spaced, squashed): headers, rows, sections."""
from __future__ import annotations

import re
from collections.abc import Iterable

from msitools.errors import KbParseError
from msitools.kb.cells import (
    SIZE_GROUPED,
    VERSION_CELL,
    Candidate,
    CellError,
    clean,
    show,
    strip_markdown,
    unescape,
)
from msitools.kb.columns import (
    Header,
    delimited_row,
    header_fields,
    public_fields,
    squashed_header,
)
from msitools.kb.dialects import DIALECT_FORMAT, MD_SEPARATOR, split_cells
from msitools.kb.records import RawDocument, RawRow, TableInfo
from msitools.kb.squashed import squashed_readings
from msitools.limits import DEFAULT_LIMITS, Limits

SECTION_MAX_LENGTH = 200  # longer text lines are paragraphs, not section titles


_FILE_NAME_LIKE = re.compile(r"\S+\.[A-Za-z][A-Za-z0-9]*")


_DATE_TOKEN = re.compile(r"\d{1,2}-[A-Za-z]{3}-\d{4}")


_TIME_TOKEN = re.compile(r"\d{1,2}:\d{2}")


_SQUASHED_ROWLIKE = re.compile(r"\d{1,2}-[A-Za-z]{3}-\d{4}\s*\d{1,2}:\d{2}|^\S+\.[A-Za-z]+(?:\d|Not\s)", re.I)


def _detect_header(line: str, line_no: int, dialects: Iterable[str], source: str) -> Header | None:
    low = line.lower()
    if "name" not in low and "file" not in low:
        return None
    for dialect in dialects:
        if dialect == "squashed":
            found = squashed_header(line)
            if found:
                return Header("squashed", found[0], found[1], line_no)
            continue
        cells = split_cells(dialect, line)
        if cells is None:
            continue
        fields = header_fields(cells, source, line_no)
        if fields:
            return Header(dialect, tuple(cells), fields, line_no)
    return None


def parse_text(text: str, source: str, dialects: tuple[str, ...], limits: Limits = DEFAULT_LIMITS) -> RawDocument:
    lines = text.split("\n")
    raw = RawDocument()
    i = 0
    last_end = 0
    while i < len(lines):
        header = _detect_header(lines[i], i + 1, dialects, source)
        if header is None:
            i += 1
            continue
        section = _section_before(lines[last_end:i])
        i, rows = _read_text_rows(lines, i + 1, header, section, dialects, source, limits)
        if not rows:
            raise KbParseError(f"line {header.line}: table header has no rows: {show(lines[header.line - 1])}", source)
        raw.rows.extend(rows)
        raw.tables.append(TableInfo(header.line, DIALECT_FORMAT[header.dialect], section,
                                    header.labels, public_fields(header.fields), len(rows)))
        last_end = i
    return raw


def _section_before(lines: list[str]) -> str:
    for line in reversed(lines):
        title = section_title(line)
        if title is not None:
            return title
    return ""


def section_title(line: str) -> str | None:
    """A short non-blank line as a section title; None for blank lines and paragraphs."""
    text = clean(unescape(line))
    text = re.sub(r"^#{1,6}\s*", "", text)
    text = re.sub(r"^\|+|\|+$", "", text).strip()
    text = strip_markdown(text).rstrip(":").strip()
    if not text or len(text) > SECTION_MAX_LENGTH:
        return None
    return text


def _looks_like_row(line: str, header: Header) -> bool:
    """True when *line* is meant as a row of the table (so a failure is an error)."""
    if header.dialect == "squashed":
        return bool(_SQUASHED_ROWLIKE.search(line.strip()))
    cells = split_cells(header.dialect, line)
    if cells is None:
        return False
    if header.dialect == "markdown":
        return True
    if len(cells) < 2:
        return False
    if _DATE_TOKEN.search(line) or _TIME_TOKEN.search(line):
        return True
    k = header.fields.index("name")
    if k < len(cells) and _FILE_NAME_LIKE.fullmatch(cells[k].strip()):
        return True
    numeric = any(VERSION_CELL.fullmatch(c.strip()) or SIZE_GROUPED.fullmatch(c.strip()) for c in cells)
    return numeric and len(cells) >= len(header.fields) - 1


def _read_text_rows(lines: list[str], i: int, header: Header, section: str,
                    dialects: tuple[str, ...], source: str, limits: Limits) -> tuple[int, list[RawRow]]:
    rows: list[RawRow] = []
    n = len(lines)
    while i < n:
        line = lines[i]
        if not line.strip() or (header.dialect == "markdown" and MD_SEPARATOR.fullmatch(line)):
            i += 1
            continue
        if _detect_header(line, i + 1, dialects, source):
            break
        try:
            cands = _row_candidates(line, header, source, i + 1, limits)
        except CellError as exc:
            if _looks_like_row(line, header):
                raise KbParseError(f"line {i + 1}: {exc}: {show(line)}", source) from None
            title = section_title(line)
            j = i + 1
            while j < n and not lines[j].strip():
                j += 1
            if (title is not None and j < n and not _detect_header(lines[j], j + 1, dialects, source)
                    and (_looks_like_row(lines[j], header) or _parses_as_row(lines[j], header, source, j + 1, limits))):
                section = title
                i += 1
                continue
            break
        rows.append(RawRow(i + 1, section, cands))
        i += 1
    return i, rows


def _parses_as_row(line: str, header: Header, source: str, line_no: int, limits: Limits) -> bool:
    try:
        _row_candidates(line, header, source, line_no, limits)
    except CellError:
        return False
    return True


def _row_candidates(line: str, header: Header, source: str, line_no: int, limits: Limits) -> list[Candidate]:
    if header.dialect == "squashed":
        return squashed_readings(line, header.fields, source, line_no, limits)
    cells = split_cells(header.dialect, line)
    if cells is None:
        raise CellError(f"not a row of the table declared on line {header.line}")
    return [delimited_row(cells, header)]
