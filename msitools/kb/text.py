"""Tables in text documents: the scan that finds them, and delimited text tables (tab, CSV, spaced, squashed).

The scan walks the document line by line.  Lines outside tables feed the section
tracker (:mod:`msitools.kb.sections`).  A table starts at:

* a Markdown pipe table holding file information (:mod:`msitools.kb.markdown`);
* an HTML ``<table>`` block inside the text (:mod:`msitools.kb.html`);
* a fixed-width listing: a header of column labels over a dashed rule (:mod:`msitools.kb.fixed`);
* a delimited header (tab, CSV, two or more spaces) or a squashed header (cells glued
  together), whose rows follow: a delimited table ends at the first line that is not
  one of its rows, unless that line is short (a section title such as "For all
  supported x64-based versions") and the next non-blank line is a row again.

A line that *looks like* a row of the table but does not parse is an error naming the
line, never a silent end of table; a table header without rows is an error too.
"""
from __future__ import annotations

import re
from collections.abc import Iterable

from msitools.errors import KbParseError
from msitools.kb.cells import SIZE_GROUPED, VERSION_CELL, Candidate, CellError, show, slash_order
from msitools.kb.columns import Header, delimited_row, header_fields, public_fields, squashed_header
from msitools.kb.dialects import DIALECT_FORMAT, split_cells
from msitools.kb.fixed import continues_platform, extend_platform, fixed_header, fixed_readings, is_rule
from msitools.kb.markdown import MarkdownTable, block_end, is_pipe_line
from msitools.kb.records import RawDocument, RawRow, Section, TableInfo
from msitools.kb.sections import SectionTracker, heading_text
from msitools.kb.squashed import squashed_readings
from msitools.limits import DEFAULT_LIMITS, Limits

_FILE_NAME_LIKE = re.compile(r"\S+\.[A-Za-z][A-Za-z0-9]*")
_DATE_TOKEN = re.compile(r"\d{1,2}[-./][A-Za-zÀ-ÿ0-9]{1,9}[-./]\d{2,4}")
_TIME_TOKEN = re.compile(r"\d{1,2}:\d{2}")
_SQUASHED_ROWLIKE = re.compile(r"\d{1,2}-[A-Za-z]{3}-\d{4}\s*\d{1,2}:\d{2}|^\S+\.[A-Za-z]+(?:\d|Not\s)", re.I)
_HTML_TABLE = re.compile(r"<table\b", re.I)
_HTML_TABLE_END = re.compile(r"</table\s*>", re.I)


def _detect_header(line: str, line_no: int, dialects: Iterable[str], source: str) -> Header | None:
    low = line.lower()
    if "name" not in low and "file" not in low and "naam" not in low:
        return None
    for dialect in dialects:
        if dialect in ("markdown", "fixed", "html"):
            continue  # tables of their own shape, found by the scan
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
    """Every file-information table of a text document."""
    return _Scan(text.split("\n"), source, dialects, limits).run()


class _Scan:
    def __init__(self, lines: list[str], source: str, dialects: tuple[str, ...], limits: Limits):
        self.lines = lines
        self.source = source
        self.dialects = dialects
        self.limits = limits
        self.raw = RawDocument()
        self.sections = SectionTracker()

    def fail(self, message: str) -> KbParseError:
        return KbParseError(message, self.source)

    def run(self) -> RawDocument:
        i = 0
        while i < len(self.lines):
            line = self.lines[i]
            nxt = None
            if "html" in self.dialects and _HTML_TABLE.search(line):
                nxt = self._html(i)
            elif "markdown" in self.dialects and is_pipe_line(line):
                nxt = self._markdown(i)
            elif "fixed" in self.dialects:
                nxt = self._fixed(i)
            if nxt is None:
                header = _detect_header(line, i + 1, self.dialects, self.source)
                if header is not None:
                    nxt = self._delimited(i, header)
            if nxt is None:
                self.sections.line(line)
                i += 1
            else:
                i = nxt
        return self.raw

    def _add(self, section: Section, line: int, fmt: str, labels: tuple[str, ...], fields: tuple[str | None, ...],
             rows: list[RawRow], dates: list[str]) -> None:
        if not rows:
            raise self.fail(f"line {line}: table header has no rows: {show(self.lines[line - 1])}")
        try:
            order = slash_order(dates)
        except CellError as exc:
            raise self.fail(f"line {line}: {exc}") from None
        for section_of_row in {id(r.section): r.section for r in rows}.values():
            self.raw.slash_order[id(section_of_row)] = order
        self.raw.rows.extend(rows)
        self.raw.tables.append(TableInfo(line, fmt, section.title, labels, public_fields(fields), len(rows), section))

    # -- Markdown ------------------------------------------------------------------------
    def _markdown(self, i: int) -> int | None:
        end = block_end(self.lines, i)
        table = MarkdownTable(self.lines[i:end], i + 1, self.source)
        if not table.is_file_table:
            return None if end == i + 1 else self._skip(i, end)
        section = self.sections.table()
        rows: list[RawRow] = []
        try:
            if table.transposed:
                rows = [RawRow(line, section, [cand]) for line, cand in table.transposed_rows()]
                labels: tuple[str, ...] = ("label", "value")
                fields: tuple[str | None, ...] = ()
            else:
                assert table.header is not None
                current = section
                for line, item in table.column_rows():
                    if isinstance(item, str):
                        self.sections.line(item)
                        current = self.sections.continue_table(current)
                    else:
                        rows.append(RawRow(line, current, [item]))
                labels, fields = table.header.labels, table.header.fields
        except CellError as exc:
            raise self.fail(str(exc)) from None
        self._add(section, i + 1, "markdown", labels, fields, rows, [c.date or "" for r in rows for c in r.cands])
        return end

    def _skip(self, i: int, end: int) -> int:
        """A pipe table that holds no file information: not a heading either."""
        return end

    # -- HTML blocks ---------------------------------------------------------------------
    def _html(self, i: int) -> int | None:
        from msitools.kb.html import parse_html

        end = i
        while end < len(self.lines) and not _HTML_TABLE_END.search(self.lines[end]):
            end += 1
        end = min(end + 1, len(self.lines))
        block = "\n".join(self.lines[i:end])
        section = self.sections.peek()
        found = parse_html(block, self.source, line_offset=i, section=section)
        if not found.tables:
            return None  # "<table" in prose, or a table of something else: read on as text
        self.sections.table()
        self.raw.rows.extend(found.rows)
        self.raw.tables.extend(found.tables)
        self.raw.slash_order.update(found.slash_order)
        return end

    # -- fixed-width listings ------------------------------------------------------------
    def _fixed(self, i: int) -> int | None:
        line = self.lines[i]
        if not line.strip():
            return None
        j = i + 1
        while j < len(self.lines) and not self.lines[j].strip():
            j += 1
        if j >= len(self.lines) or not is_rule(self.lines[j]):
            return None
        found = fixed_header(line.expandtabs(8))
        if found is None:
            return None
        labels, fields, platform_column = found
        section = self.sections.table()
        rows: list[RawRow] = []
        k = j + 1
        while k < len(self.lines):
            text = self.lines[k]
            if not text.strip():
                k += 1
                continue
            try:
                cands = fixed_readings(text, fields)
            except CellError as exc:
                if rows and fields[-1] == "platform" and continues_platform(text.expandtabs(8), platform_column):
                    last = rows[-1]
                    last.cands = [extend_platform(c, text) for c in last.cands]
                    last.original = tuple(last.cands)
                    k += 1
                    continue
                if self._fixed_row_like(text, fields):
                    raise self.fail(f"line {k + 1}: {exc}: {show(text)}") from None
                break
            rows.append(RawRow(k + 1, section, cands))
            k += 1
        self._add(section, i + 1, "fixed", labels, fields, rows, [c.date or "" for r in rows for c in r.cands])
        return k

    @staticmethod
    def _fixed_row_like(text: str, fields: tuple[str, ...]) -> bool:
        tokens = text.split()
        if _DATE_TOKEN.match(tokens[0]) or any(_TIME_TOKEN.fullmatch(t) for t in tokens[:3]):
            return True
        return fields[0] == "name" and bool(_FILE_NAME_LIKE.fullmatch(tokens[0])) and len(tokens) >= 2

    # -- delimited text ------------------------------------------------------------------
    def _delimited(self, i: int, header: Header) -> int:
        section = self.sections.table()
        end, rows = self._delimited_rows(i + 1, header, section)
        self._add(section, header.line, DIALECT_FORMAT[header.dialect], header.labels, header.fields, rows,
                  [c.date or "" for r in rows for c in r.cands])
        return end

    def _delimited_rows(self, i: int, header: Header, section: Section) -> tuple[int, list[RawRow]]:
        rows: list[RawRow] = []
        lines, n = self.lines, len(self.lines)
        while i < n:
            line = lines[i]
            if not line.strip():
                i += 1
                continue
            if _detect_header(line, i + 1, self.dialects, self.source):
                break
            try:
                cands = self._row_candidates(line, header, i + 1)
            except CellError as exc:
                if _looks_like_row(line, header):
                    raise self.fail(f"line {i + 1}: {exc}: {show(line)}") from None
                if self._caption_before_rows(i, header):
                    self.sections.line(line)
                    section = self.sections.continue_table(section)
                    i += 1
                    continue
                break
            rows.append(RawRow(i + 1, section, cands))
            i += 1
        return i, rows

    def _caption_before_rows(self, i: int, header: Header) -> bool:
        """A short line followed (after blank lines) by another row of the table: a section title inside it."""
        title = heading_text(self.lines[i])
        j = i + 1
        while j < len(self.lines) and not self.lines[j].strip():
            j += 1
        if title is None or len(title) > 200 or j >= len(self.lines):
            return False
        nxt = self.lines[j]
        if _detect_header(nxt, j + 1, self.dialects, self.source):
            return False
        return _looks_like_row(nxt, header) or self._parses_as_row(nxt, header, j + 1)

    def _parses_as_row(self, line: str, header: Header, line_no: int) -> bool:
        try:
            self._row_candidates(line, header, line_no)
        except CellError:
            return False
        return True

    def _row_candidates(self, line: str, header: Header, line_no: int) -> list[Candidate]:
        if header.dialect == "squashed":
            return squashed_readings(line, header.fields, self.source, line_no, self.limits)
        cells = split_cells(header.dialect, line)
        if cells is None:
            raise CellError(f"not a row of the table declared on line {header.line}")
        return [delimited_row(cells, header)]


def _looks_like_row(line: str, header: Header) -> bool:
    """True when *line* is meant as a row of the table (so a failure is an error)."""
    if header.dialect == "squashed":
        return bool(_SQUASHED_ROWLIKE.search(line.strip()))
    cells = split_cells(header.dialect, line)
    if cells is None or len(cells) < 2:
        return False
    if _DATE_TOKEN.search(line) or _TIME_TOKEN.search(line):
        return True
    k = header.fields.index("name")
    if k < len(cells) and _FILE_NAME_LIKE.fullmatch(cells[k].strip()):
        return True
    numeric = any(VERSION_CELL.fullmatch(c.strip()) or SIZE_GROUPED.fullmatch(c.strip()) for c in cells)
    return numeric and len(cells) >= len(header.fields) - 1
