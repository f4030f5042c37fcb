"""Records of a parsed published table: readings, rows, tables, and the raw rows the parsers build."""
from __future__ import annotations

from dataclasses import dataclass, field

from msitools.kb.cells import Candidate, iso_date


def cell_dict(record) -> dict:
    """The published cells of a reading or a row, as the JSON keys say them."""
    return {"name": record.name, "version": record.version, "size": record.size, "date": record.date,
            "date_iso": record.date_iso, "time": record.time, "platform": record.platform}


@dataclass(frozen=True)


class Reading:
    """One complete interpretation of a row."""

    name: str
    version: str | None
    size: int | None
    date: str | None
    time: str | None
    platform: str | None

    @property
    def date_iso(self) -> str | None:
        return iso_date(self.date)

    def to_dict(self) -> dict:
        return cell_dict(self)


@dataclass


class PublishedRow:
    """One row of a published table.

    For an ambiguous row, a field is ``None`` unless all ``readings`` agree on it.
    ``line`` is the 1-based line of the row in the document (for HTML, the ``<tr>`` line).
    ``inferred`` is true when the text alone allowed several readings and table-wide
    evidence chose this one; ``alternatives`` then holds the readings the evidence set
    aside (also for ambiguous rows), so that a consumer can tell a mismatch from a mis-split.
    Neither appears in :meth:`to_dict`.
    """

    name: str | None
    version: str | None
    size: int | None
    date: str | None
    time: str | None
    platform: str | None
    section: str
    line: int
    ambiguous: bool = False
    readings: tuple[Reading, ...] = ()
    inferred: bool = False
    alternatives: tuple[Reading, ...] = ()

    @property
    def date_iso(self) -> str | None:
        """The date as ``YYYY-MM-DD`` (``None`` when the row has no single date)."""
        return iso_date(self.date)

    def to_dict(self) -> dict:
        out = {
            **cell_dict(self),
            "section": self.section,
            "line": self.line,
            "ambiguous": self.ambiguous,
        }
        if self.ambiguous:
            out["readings"] = [r.to_dict() for r in self.readings]
        return out


@dataclass(frozen=True)


class TableInfo:
    """One header found in the document and what it declared."""

    line: int
    format: str  # html, csv, markdown, text, squashed
    section: str
    labels: tuple[str, ...]  # header cells as printed
    fields: tuple[str | None, ...]  # field of each column (None: ignored column)
    rows: int = 0


@dataclass


class PublishedTable:
    """Every row of every file-information table in one document, in document order."""

    source: str
    format: str  # the dialect of the tables, or "mixed"
    rows: list[PublishedRow] = field(default_factory=list)
    tables: list[TableInfo] = field(default_factory=list)

    @property
    def ambiguous_rows(self) -> list[PublishedRow]:
        return [r for r in self.rows if r.ambiguous]

    def to_dict(self) -> dict:
        """The JSON shape: ``{"rows": [...]}``."""
        return {"rows": [r.to_dict() for r in self.rows]}


class RawRow:
    __slots__ = ("cands", "line", "original", "section")

    def __init__(self, line: int, section: str, cands: list[Candidate]):
        self.line = line
        self.section = section
        self.cands = cands
        self.original = tuple(cands)


class RawDocument:
    def __init__(self) -> None:
        self.rows: list[RawRow] = []
        self.tables: list[TableInfo] = []


def _reading(c: Candidate) -> Reading:
    return Reading(c.name, c.version, c.size, c.date, c.time, c.platform)


def finish_row(r: RawRow) -> PublishedRow:
    readings = tuple(_reading(c) for c in r.cands)
    alternatives = tuple(_reading(c) for c in r.original if c not in r.cands)
    if len(readings) == 1:
        x = readings[0]
        return PublishedRow(x.name, x.version, x.size, x.date, x.time, x.platform, r.section, r.line,
                            inferred=bool(alternatives), alternatives=alternatives)

    def agreed(attr: str):
        values = {getattr(x, attr) for x in readings}
        return values.pop() if len(values) == 1 else None

    return PublishedRow(agreed("name"), agreed("version"), agreed("size"), agreed("date"), agreed("time"),
                        agreed("platform"), r.section, r.line, ambiguous=True, readings=readings,
                        alternatives=alternatives)
