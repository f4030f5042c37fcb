"""Markdown pipe tables: a header row of column labels, or transposed per-file blocks.

A pipe table is the run of ``|`` lines around a separator line (``|---|:---:|``).  Two
shapes hold file information:

* **column tables**: the header names the columns (File name, File version ...); each row
  is a file; rows whose cells are all empty (``| | | |`` or ``||||||``, the spacers of
  migrated articles) are skipped; a row with one non-empty cell that names no file is a
  caption for the rows after it;
* **transposed blocks** ("Additional file information"): two columns, the first holding
  labels (File name, File version, File size, Date (UTC), Time (UTC), Platform); each run
  of labels from one "File name" to the next is a file; empty rows separate the runs.

A table that looks like neither is not a file table and is left alone.
"""
from __future__ import annotations

import re

from msitools.kb.cells import Candidate, CellError, cell_text, show
from msitools.kb.columns import LABEL_FIELD, Header, candidate, delimited_row, header_fields, norm_label
from msitools.kb.dialects import MD_SEPARATOR, split_markdown

_PIPE_LINE = re.compile(r"\s*\|")


def is_pipe_line(line: str) -> bool:
    return bool(_PIPE_LINE.match(line)) and line.count("|") >= 2


def block_end(lines: list[str], start: int) -> int:
    """The index after the run of pipe lines starting at *start*."""
    i = start
    while i < len(lines) and is_pipe_line(lines[i]):
        i += 1
    return i


def _raw_cells(line: str) -> list[str]:
    """The cells of a pipe row as printed (escapes and marks kept: cell readers strip them)."""
    s = line.strip()
    if s.startswith("|"):
        s = s[1:]
    if s.endswith("|") and not s.endswith("\\|"):
        s = s[:-1]
    return [c.strip() for c in re.split(r"(?<!\\)\|", s)]


def _empty(cells: list[str]) -> bool:
    return all(not cell_text(c) for c in cells)


class MarkdownTable:
    """One pipe table: its lines (with their numbers), and what kind of file table it is."""

    def __init__(self, lines: list[str], first_line: int, source: str):
        self.rows = [(first_line + k, line) for k, line in enumerate(lines)]
        self.source = source
        self.header: Header | None = None
        self.transposed = False
        self._classify()

    def _classify(self) -> None:
        if len(self.rows) < 2 or not MD_SEPARATOR.fullmatch(self.rows[1][1]):
            return
        line_no, first = self.rows[0]
        cells = split_markdown(first) or []
        fields = header_fields(cells, self.source, line_no, minimum=2)  # the separator line marks the table
        if fields:
            self.header = Header("markdown", tuple(cells), fields, line_no)
            return
        raw = _raw_cells(first)
        if len(raw) == 2 and LABEL_FIELD.get(norm_label(cell_text(raw[0]))) == "name":
            self.transposed = True

    @property
    def is_file_table(self) -> bool:
        return self.header is not None or self.transposed

    def column_rows(self) -> list[tuple[int, Candidate | str]]:
        """Each row: ``(line, reading)``, or ``(line, caption text)`` for a caption row; raises CellError."""
        assert self.header is not None
        out: list[tuple[int, Candidate | str]] = []
        for line_no, line in self.rows[2:]:
            if MD_SEPARATOR.fullmatch(line):
                continue
            raw = _raw_cells(line)
            if _empty(raw):
                continue  # a spacer row
            filled = [text for text in map(cell_text, raw) if text]
            if len(filled) == 1 and not re.search(r"\.[A-Za-z][A-Za-z0-9]{0,7}$", filled[0]):
                out.append((line_no, filled[0]))
                continue
            try:
                out.append((line_no, delimited_row(raw, self.header)))
            except CellError as exc:
                raise CellError(f"line {line_no}: {exc}: {show(line)}") from None
        return out

    def transposed_rows(self) -> list[tuple[int, Candidate]]:
        """Each per-file block as one reading ``(line of its File name row, reading)``; raises CellError."""
        blocks: list[tuple[int, list[tuple[str, str]]]] = []
        for line_no, line in [self.rows[0], *self.rows[2:]]:
            raw = _raw_cells(line)
            if _empty(raw):
                continue
            if len(raw) != 2:
                raise CellError(f"line {line_no}: a per-file block row has {len(raw)} cells, not 2: {show(line)}")
            label, value = cell_text(raw[0]), raw[1]
            field = LABEL_FIELD.get(norm_label(label))
            if field is None:
                if norm_label(label) in ("sp requirement", "service branch", "file attributes", "attributes"):
                    continue
                raise CellError(f"line {line_no}: unknown label {label!r} in a per-file block: {show(line)}")
            if field == "name":
                blocks.append((line_no, []))
            elif not blocks:
                raise CellError(f"line {line_no}: a per-file block must start with its file name: {show(line)}")
            if any(f == field for f, _ in blocks[-1][1]):
                raise CellError(f"line {line_no}: the block names its {field} twice: {show(line)}")
            blocks[-1][1].append((field, value))
        return [(line_no, candidate(pairs)) for line_no, pairs in blocks]
