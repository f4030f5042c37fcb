"""Records of a parsed published table: sections, readings, rows, tables, and the raw rows the parsers build."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from msitools.kb.cells import Candidate, CellError, read_date


@dataclass(frozen=True)
class Section:
    """Where a table sits in the article: its heading, the headings around it, and the platform they name.

    ``title`` is the nearest heading (or caption) above the table; ``context`` the other
    headings since the previous table (or, when there are none, the previous table's
    context), outermost first, joined by ``" > "``; ``platform`` the processor the title
    names, or else the context (``x64-based versions``, ``32-Bit-Editionen``).
    """

    title: str = ""
    context: str = ""
    platform: str | None = None

    def matches(self, text: str) -> bool:
        """True when *text* (case-insensitive) occurs in the title or the context."""
        needle = text.lower()
        return needle in self.title.lower() or needle in self.context.lower()


def _date_facts(date: str | None, slash: str) -> tuple[str | None, str | None]:
    if not date:
        return None, None
    try:
        value = read_date(date, slash)
    except CellError:
        return None, None
    return value.iso, value.month_day


@dataclass(frozen=True)
class Reading:
    """One complete interpretation of a row."""

    name: str
    version: str | None
    size: int | None
    date: str | None
    time: str | None
    platform: str | None
    slash_order: str = "mdy"

    @property
    def date_iso(self) -> str | None:
        return _date_facts(self.date, self.slash_order)[0]

    def to_dict(self) -> dict[str, Any]:
        return cell_dict(self)


def cell_dict(record: Any) -> dict[str, Any]:
    """The published cells of a reading or a row, as the JSON keys say them."""
    return {"name": record.name, "version": record.version, "size": record.size, "date": record.date,
            "date_iso": record.date_iso, "time": record.time, "platform": record.platform}


@dataclass
class PublishedRow:
    """One row of a published table.

    For an ambiguous row, a field is ``None`` unless all ``readings`` agree on it.
    ``line`` is the 1-based line of the row in the document (for HTML, the ``<tr>`` line).
    ``printed`` holds the cells as printed; ``notes`` what was printed but carries no
    exact value (a placeholder time, a size in KB, a missing group separator).
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
    printed: dict[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    installed_name: str | None = None
    where: Section = field(default_factory=Section)
    slash_order: str = "mdy"

    @property
    def date_iso(self) -> str | None:
        """The date as ``YYYY-MM-DD`` (``None`` when the row has no single date, or no year)."""
        return _date_facts(self.date, self.slash_order)[0]

    @property
    def date_month_day(self) -> str | None:
        """``MM-DD`` of a date printed without a year (``14-9``)."""
        return _date_facts(self.date, self.slash_order)[1]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            **cell_dict(self),
            "section": self.section,
            "line": self.line,
            "ambiguous": self.ambiguous,
            "printed": dict(self.printed),
        }
        if self.date_month_day:
            out["date_month_day"] = self.date_month_day
        if self.installed_name:
            out["installed_name"] = self.installed_name
        if self.notes:
            out["notes"] = list(self.notes)
        if self.ambiguous:
            out["readings"] = [r.to_dict() for r in self.readings]
        return out


@dataclass(frozen=True)
class TableInfo:
    """One header found in the document and what it declared."""

    line: int
    format: str  # html, csv, markdown, text, fixed, squashed
    section: str
    labels: tuple[str, ...]  # header cells as printed
    fields: tuple[str | None, ...]  # field of each column (None: ignored column)
    rows: int = 0
    where: Section = field(default_factory=Section)


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

    @property
    def sections(self) -> list[tuple[Section, list[PublishedRow]]]:
        """The tables in document order, each with its section and rows."""
        out: list[tuple[Section, list[PublishedRow]]] = []
        for row in self.rows:
            if not out or out[-1][1][-1].where is not row.where:
                out.append((row.where, []))
            out[-1][1].append(row)
        return out

    def select(self, sections: list[str] | tuple[str, ...] = (), platforms: list[str] | tuple[str, ...] = ()) \
            -> PublishedTable:
        """The rows of the sections a text names and of the platforms asked for (see the README).

        A row is kept for *platforms* when its section names one of them, or, in a
        section that names none, when its own platform is one of them; rows whose
        platform is Not Applicable always stay.
        """
        wanted = {p.lower() for p in platforms}
        rows = []
        for row in self.rows:
            if sections and not any(row.where.matches(s) for s in sections):
                continue
            if wanted:
                platform = row.where.platform or row.platform
                if platform is not None and platform.lower() not in wanted and \
                        (row.platform or "").lower() != "not applicable":
                    continue
            rows.append(row)
        return PublishedTable(self.source, self.format, rows, self.tables)

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape: ``{"rows": [...], "sections": [{"title", "context", "platform", "rows"}]}``."""
        return {
            "rows": [r.to_dict() for r in self.rows],
            "sections": [{"title": s.title, "context": s.context, "platform": s.platform,
                          "rows": [r.to_dict() for r in rows]} for s, rows in self.sections],
        }


class RawRow:
    """A row as a parser read it: its line, section, and every reading its text allows."""

    __slots__ = ("cands", "line", "original", "section")

    def __init__(self, line: int, section: Section, cands: list[Candidate]):
        self.line = line
        self.section = section
        self.cands = cands
        self.original = tuple(cands)


class RawDocument:
    """What the parsers found: the raw rows and the tables, in document order."""

    def __init__(self) -> None:
        self.rows: list[RawRow] = []
        self.tables: list[TableInfo] = []
        self.slash_order: dict[int, str] = {}  # id(section) -> how slash dates read in its table


def _reading(c: Candidate, slash: str) -> Reading:
    return Reading(c.name, c.version, c.size, c.date, c.time, c.platform, slash)


def finish_row(r: RawRow, slash: str = "mdy") -> PublishedRow:
    """The published row of a raw row (one reading: resolved; several: ambiguous)."""
    readings = tuple(_reading(c, slash) for c in r.cands)
    alternatives = tuple(_reading(c, slash) for c in r.original if c not in r.cands)
    first = r.cands[0]
    # the cells as printed: those of the reading (an ambiguous row has no single one)
    extra: dict[str, Any] = {"printed": dict(first.printed) if len(r.cands) == 1 else {}, "notes": first.notes,
             "installed_name": first.installed_name,
             "where": r.section, "slash_order": slash}
    if len(readings) == 1:
        x = readings[0]
        return PublishedRow(x.name, x.version, x.size, x.date, x.time, x.platform, r.section.title, r.line,
                            inferred=bool(alternatives), alternatives=alternatives, **extra)

    def agreed(attr: str) -> Any:
        values = {getattr(x, attr) for x in readings}
        return values.pop() if len(values) == 1 else None

    return PublishedRow(agreed("name"), agreed("version"), agreed("size"), agreed("date"), agreed("time"),
                        agreed("platform"), r.section.title, r.line, ambiguous=True, readings=readings,
                        alternatives=alternatives, **extra)
