"""Table headers: which column holds which field, and reading a row's cells by its header."""
from __future__ import annotations

import functools
import re
from collections import Counter
from typing import Any, NamedTuple

from msitools.errors import KbParseError
from msitools.kb.cells import (
    SIZE_GROUPED,
    Candidate,
    CellError,
    cell_text,
    check_version,
    clean,
    name_parts,
    read_date,
    read_platform,
    read_size,
    read_time,
    show,
)

_FIELD_LABELS = {
    "name": ("file name", "filename", "name", "file", "dateiname", "bestandsnaam", "nom de fichier", "nom du fichier",
             "nombre de archivo", "nome file"),
    "version": ("file version", "fileversion", "version", "dateiversion", "versie", "bestandsversie",
                "version du fichier", "versión"),
    "size": ("file size", "filesize", "size", "file size (bytes)", "size (bytes)", "size in bytes", "größe",
             "dateigröße", "grootte", "bestandsgrootte", "taille", "tamaño"),
    "date": ("date", "file date", "date (utc)", "utc date", "datum", "datum (utc)", "fecha"),
    "time": ("time", "file time", "time (utc)", "utc time", "uhrzeit", "zeit", "uhrzeit (utc)", "tijd", "tijd (utc)",
             "heure", "hora"),
    "platform": ("platform", "cpu", "architecture", "plattform", "plateforme", "plataforma"),
}
LABEL_FIELD = {label: f for f, labels in _FIELD_LABELS.items() for label in labels}
# extra columns known by name, so that a squashed header can be split; their values are ignored
_IGNORED_LABELS = ("sp requirement", "service branch", "file attributes", "attributes")
_SQUASHED_LABELS = sorted(list(LABEL_FIELD) + list(_IGNORED_LABELS), key=len, reverse=True)


class Header(NamedTuple):
    dialect: str  # markdown, tab, csv, spaced, squashed, html
    labels: tuple[str, ...]
    fields: tuple[str | None, ...]  # for squashed: ignored columns are "ignore:<label>"
    line: int


def norm_label(text: str) -> str:
    text = re.sub(r"[*_`:\\]", "", text)
    return re.sub(r"\s+", " ", text).strip().lower()


def header_fields(labels: list[str], source: str, line: int, minimum: int = 3) -> tuple[str | None, ...] | None:
    """Fields of a header's cells, or None when the cells are not a header.

    A header names the file name and the version or the size, and at least *minimum*
    known columns (2 for a fixed-width listing, whose dashed rule marks it as a table).
    """
    fields = [LABEL_FIELD.get(norm_label(c)) for c in labels]
    known = [f for f in fields if f]
    if "name" not in known or not ({"version", "size"} & set(known)) or len(known) < minimum:
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


def _date_cell(text: str) -> str:
    """A printed date, valid read as month/day or as day/month (the table decides which, see slash_order)."""
    try:
        return read_date(text).text
    except CellError:
        return read_date(text, "dmy").text


def _read_cell(field: str, raw: str, values: dict[str, Any], notes: list[str]) -> None:
    """Read one printed cell into *values* (raises CellError)."""
    if field == "name":
        name, installed = name_parts(raw)
        if not name:
            raise CellError("empty file name")
        values["name"], values["installed_name"] = name, installed
        return
    updates, note = _cell_reading(field, raw)
    values.update(updates)
    if note:
        notes.append(note)


# readings of printed cells other than names, by (field, cell): a big table repeats its dates,
# times, platforms and versions; every reading is a pure function of the cell and immutable
# (a cell that cannot be read raises, and is not remembered)
@functools.lru_cache(maxsize=4096)
def _cell_reading(field: str, raw: str) -> tuple[tuple[tuple[str, Any], ...], str | None]:
    cell = cell_text(raw)
    note = None
    updates: tuple[tuple[str, Any], ...]
    if not cell:
        updates = ((field, None),)
    elif field == "version":
        updates = (("version", check_version(cell)),)
    elif field == "size":
        size, note = read_size(cell)
        updates = (("size", size), ("size_text", cell))
    elif field == "date":
        updates = (("date", _date_cell(cell)),)
    elif field == "time":
        value, note = read_time(cell)
        updates = (("time", value),)
    elif field == "platform":
        value, note = read_platform(cell)
        updates = (("platform", value),)
    else:
        updates = ()
    return updates, note


_printed = functools.lru_cache(maxsize=4096)(clean)  # a printed cell as the report shows it


def candidate(pairs: list[tuple[str, str]]) -> Candidate:
    """The reading of a row from ``(field, cell as printed)`` pairs (ignored columns left out)."""
    values: dict[str, Any] = dict.fromkeys(Candidate._fields)
    notes: list[str] = []
    for field, raw in pairs:
        _read_cell(field, raw, values, notes)
    if not values.get("name"):
        raise CellError("no file name")
    values["printed"] = tuple((field, clean(raw) if field == "name" else _printed(raw)) for field, raw in pairs)
    values["notes"] = tuple(notes)
    return Candidate(**values)


def delimited_row(cells: list[str], header: Header) -> Candidate:
    """The reading of a delimited row by its header (one cell per column)."""
    fields = header.fields
    want = len(fields)
    if header.dialect in ("tab", "markdown", "html"):
        while len(cells) > want and not cells[-1].strip():
            cells = cells[:-1]
    if len(cells) > want and header.dialect == "csv" and "size" in fields:
        cells = _rejoin_csv_size(cells, fields)
    if len(cells) != want:
        raise CellError(f"row has {len(cells)} cells, the header has {want}")
    return candidate([(f, cell) for f, cell in zip(fields, cells) if f is not None and not f.startswith("ignore:")])


def _rejoin_csv_size(cells: list[str], fields: tuple[str | None, ...]) -> list[str]:
    """Undo an unquoted ``1,172,328`` that CSV split into three cells, when unambiguous."""
    extra = len(cells) - len(fields)
    k = fields.index("size")
    joined = ",".join(cells[k:k + extra + 1])
    if SIZE_GROUPED.fullmatch(joined):
        return cells[:k] + [joined] + cells[k + extra + 1:]
    return cells
