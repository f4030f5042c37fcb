"""Delimited text dialects: one splitter per dialect, in one registry.

A dialect turns one line into its cells (or None when the line has no
delimiter of that dialect).  A new delimited input format is one function here
and one entry in :data:`DIALECTS` (with the format name ``kb parse`` reports it
under in :data:`DIALECT_FORMAT`); the table grammar around it (headers, rows,
sections) is shared (:mod:`msitools.kb.text`).
"""
from __future__ import annotations

import csv
import re
from collections.abc import Callable

from msitools.kb.cells import strip_markdown

MD_SEPARATOR = re.compile(r"\s*\|?\s*:?-{3,}:?\s*(?:\|\s*:?-{3,}:?\s*)*\|?\s*")

Splitter = Callable[[str], "list[str] | None"]


def split_markdown(line: str) -> list[str] | None:
    """A pipe-table row: ``| a | b |`` (outer pipes optional, ``\\|`` escapes a pipe)."""
    s = line.strip()
    if "|" not in s:
        return None
    if s.startswith("|"):
        s = s[1:]
    if s.endswith("|") and not s.endswith("\\|"):
        s = s[:-1]
    cells = re.split(r"(?<!\\)\|", s)
    return [strip_markdown(c.replace("\\|", "|")) for c in cells]


def split_tab(line: str) -> list[str] | None:
    """Cells separated by tabs (copied from a browser or a spreadsheet)."""
    if "\t" not in line:
        return None
    return [c.strip() for c in line.strip("\r\n ").split("\t")]


def split_csv(line: str) -> list[str] | None:
    """Comma-separated cells, quotes as in RFC 4180."""
    if "," not in line:
        return None
    try:
        return [c.strip() for c in next(csv.reader([line]))]
    except (csv.Error, StopIteration):
        return None


def split_spaced(line: str) -> list[str] | None:
    """Cells separated by two or more spaces (or a tab)."""
    cells = re.split(r"\s{2,}|\t", line.strip())
    return cells if len(cells) >= 2 else None


DIALECTS: dict[str, Splitter] = {
    "markdown": split_markdown,
    "tab": split_tab,
    "csv": split_csv,
    "spaced": split_spaced,
}

# the format a table is reported under, per dialect (squashed and html have parsers of their own)


DIALECT_FORMAT = {"markdown": "markdown", "tab": "text", "spaced": "text", "csv": "csv",
                  "squashed": "squashed", "html": "html"}


def split_cells(dialect: str, line: str) -> list[str] | None:
    """Cells of *line* in a delimited dialect, or None when the line has no delimiter."""
    return DIALECTS[dialect](line)
