"""Table headers: which column holds which field, and reading a row's cells by its header."""
from __future__ import annotations

import re
from collections import Counter
from typing import Any, NamedTuple

from msitools.errors import KbParseError
from msitools.kb.cells import (
    SIZE_GROUPED,
    Candidate,
    CellError,
    check_date,
    check_platform,
    check_size,
    check_time,
    check_version,
    clean,
    show,
)

_FIELD_LABELS = {
    "name": ("file name", "filename", "name", "file"),
    "version": ("file version", "fileversion", "version"),
    "size": ("file size", "filesize", "size", "file size (bytes)", "size (bytes)", "size in bytes"),
    "date": ("date", "file date", "date (utc)", "utc date"),
    "time": ("time", "file time", "time (utc)", "utc time"),
    "platform": ("platform", "cpu", "architecture"),
}


LABEL_FIELD = {label: f for f, labels in _FIELD_LABELS.items() for label in labels}


_IGNORED_LABELS = ("sp requirement", "service branch", "file attributes", "attributes")


_SQUASHED_LABELS = sorted(list(LABEL_FIELD) + list(_IGNORED_LABELS), key=len, reverse=True)


class Header(NamedTuple):
    dialect: str  # markdown, tab, csv, spaced, squashed, html
    labels: tuple[str, ...]
    fields: tuple[str | None, ...]  # for squashed: ignored columns are "ignore:<label>"
    line: int


def norm_label(text: str) -> str:
    text = re.sub(r"[*_`:]", "", text)
    return re.sub(r"\s+", " ", text).strip().lower()


def header_fields(labels: list[str], source: str, line: int) -> tuple[str | None, ...] | None:
    """Fields of a delimited header, or None when the cells are not a header."""
    fields = [LABEL_FIELD.get(norm_label(c)) for c in labels]
    known = [f for f in fields if f]
    if "name" not in known or not ({"version", "size"} & set(known)) or len(known) < 3:
        return None
    dup = [f for f, n in Counter(known).items() if n > 1]
    if dup:
        raise KbParseError(f"line {line}: header names the {dup[0]} column twice: {show(' | '.join(labels))}", source)
    return tuple(fields)


def squashed_header(line_text: str) -> tuple[tuple[str, ...], tuple[str | None, ...]] | None:
    """Split a glued header such as ``File nameFile versionFile size...`` into labels."""
    text = line_text.strip()
    low = text.lower()
    if "name" not in low and "file" not in low:
        return None
    n = len(low)
    failed: set[int] = set()

    def split(pos: int) -> list[tuple[int, str]] | None:
        if pos == n:
            return []
        if pos in failed:
            return None
        for label in _SQUASHED_LABELS:
            if low.startswith(label, pos):
                end = pos + len(label)
                nxt = end
                while nxt < n and low[nxt].isspace():
                    nxt += 1
                rest = split(nxt)
                if rest is not None:
                    return [(pos, label)] + rest
        failed.add(pos)
        return None

    parts = split(0)
    if not parts:
        return None
    labels = tuple(text[p:p + len(lab)] for p, lab in parts)
    fields = tuple(LABEL_FIELD.get(lab, f"ignore:{lab}") for _, lab in parts)
    known = [f for f in fields if f and not f.startswith("ignore:")]
    if "name" not in known or not ({"version", "size"} & set(known)) or len(known) < 3:
        return None
    if len(set(known)) != len(known):
        return None
    return labels, fields


def public_fields(fields: tuple[str | None, ...]) -> tuple[str | None, ...]:
    return tuple(None if f is None or f.startswith("ignore:") else f for f in fields)


def delimited_row(cells: list[str], header: Header) -> Candidate:
    fields = header.fields
    want = len(fields)
    if header.dialect == "tab":
        while len(cells) > want and cells[-1] == "":
            cells = cells[:-1]
    if len(cells) > want and header.dialect == "csv" and "size" in fields:
        cells = _rejoin_csv_size(cells, fields)
    if len(cells) != want:
        raise CellError(f"row has {len(cells)} cells, the header has {want}")
    values: dict[str, Any] = dict.fromkeys(Candidate._fields)
    for f, cell in zip(fields, cells):
        if f is None:
            continue
        cell = clean(cell)
        if f == "name":
            if not cell:
                raise CellError("empty file name")
            values["name"] = cell
        elif not cell:
            if f == "size":
                raise CellError("empty file size")
            values[f] = None
        elif f == "version":
            values["version"] = check_version(cell)
        elif f == "size":
            values["size"] = check_size(cell)
            values["size_text"] = cell
        elif f == "date":
            values["date"] = check_date(cell)
        elif f == "time":
            values["time"] = check_time(cell)
        elif f == "platform":
            values["platform"] = check_platform(cell)
    return Candidate(**values)


def _rejoin_csv_size(cells: list[str], fields: tuple[str | None, ...]) -> list[str]:
    """Undo an unquoted ``1,172,328`` that CSV split into three cells, when unambiguous."""
    extra = len(cells) - len(fields)
    k = fields.index("size")
    joined = ",".join(cells[k:k + extra + 1])
    if SIZE_GROUPED.fullmatch(joined):
        return cells[:k] + [joined] + cells[k + extra + 1:]
    return cells
