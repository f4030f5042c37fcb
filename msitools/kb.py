"""Published file-information tables (the "File information" section of a Microsoft KB article).

A hotfix article lists the files it installs as a table with the columns *File name*,
*File version*, *File size*, *Date*, *Time* and *Platform* (in any order, sometimes with
extra columns such as *SP requirement* or *Service branch*, which are ignored).  This
module turns such a document into :class:`PublishedRow` records.

Accepted inputs (``format``):

``html``      ``<table>`` elements with a header row (``<th>`` or ``<td>``); entities decoded.
``csv``       comma-separated, header first; a size may be quoted (``"1,172,328"``) or not
              (unquoted thousands groups are rejoined when that is the only valid reading).
``markdown``  pipe tables (``| File name | ... |`` plus the ``|---|`` line).
``text``      copied text with a tab, or two or more spaces, between cells.
``squashed``  copied text where the cells of a row are glued together (or separated by
              single spaces), e.g. ``Tscore.dll4.0.6487.21921,172,32801-Feb-201016:35x86``.
``auto``      ``html`` if the document contains ``<table`` and a table with a header is found
              there; otherwise every header line picks its own dialect (markdown, tab, csv,
              spaced, squashed, tried in that order).

Squashed rows are ambiguous by nature.  Every split allowed by the grammar (file name ending
in an extension of letters, or ps1/psd1/psm1/ps1xml/mp3/mp4/h264, so that ``Msvcr100.dll10.0``
never reads as ``Msvcr100.dll1`` + ``0.0``; version of 1-4 parts each 0..65535 without leading zeros or "Not
Applicable", size with valid thousands groups, ``dd-Mon-yyyy`` date, ``HH:MM`` time, known
platform) is a *reading*.  Evidence from the whole document then narrows the readings:

1. size style: if some rows certainly use thousands separators and none certainly do not,
   readings that print a size of 1000 or more without separators are dropped (and the
   converse);
2. full version: the table should use as few distinct versions as possible ("one
   consistent build").  Per group of rows linked by shared candidate versions, the exact
   smallest sets of versions giving every row a reading are computed.  A reading is set
   aside when its version is in none of them *and* reading the row that way (with its other
   candidates unused) costs at least ``EVIDENCE_MARGIN`` (2) more versions than its best
   reading or leaves another row with no reading (details in :func:`_cover_evidence`);
3. build number (the last version part, e.g. ``2192`` in ``4.0.6487.2192``): likewise;
4. date as printed (``01-Feb-2010`` of other rows beats ``1-Feb-2010`` when a plain size
   could end in the day's leading zero): likewise.

Steps 2-4 repeat until nothing changes.  In KB 2586709 one version, ``4.0.6487.2192``,
explains every versioned row, while reading any row otherwise needs at least four
versions, so ``219``/``21``/``21922``... are set aside.  One version against two is not
enough evidence: the two-row table ``...1415`` + ``...1416`` is explained just as well by
``...141`` (one version) as by the truth (two), so both rows stay ambiguous; a single row
is always ambiguous when its text allows several readings.

Known limit: a table made of many versions one digit apart (``...17530`` to ``...17539``,
all with sizes below 100,000,000 whose first group has one or two digits) is explained far
better by their common prefix ``...1753``, and is read that way.  Such rows carry
``inferred=True`` with the set-aside readings in ``alternatives``.

A row left with one reading is resolved.  A row left with several is reported with
``ambiguous=True``, the fields on which all remaining readings agree, ``None`` for the others,
and the remaining readings in ``readings``.  The parser never guesses beyond that evidence
and never looks at the payload.

Table boundaries and errors: a table starts at a header line and extends over the lines
that parse as rows (blank lines inside it are skipped).  A non-blank line that is not a row
ends the table, unless it is short (a section title such as "For all supported x64-based
versions") and the next non-blank line is a row again, in which case it becomes the section
of the following rows.  A line that *looks like* a row but does not parse is an error
(:class:`~msitools.errors.KbParseError` naming the line and its text), never a silent
end of table.  A line looks like a row when it is a markdown pipe row, or has the table's
delimiter and either a date or time, a file name (``x.ext``) in the name column, or a
number in a row that lacks at most one cell; a glued line looks like a row when it holds a
date followed by a time, or starts with ``name.ext`` followed by a digit or "Not ".  A
document without any header, or a header without rows, is an error too.
"""
from __future__ import annotations

import csv
import datetime
import html
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Callable, Iterable, Iterator, NamedTuple

from msitools.errors import KbParseError, LimitExceeded, UsageError

__all__ = [
    "FORMATS",
    "FIELDS",
    "PLATFORMS",
    "NOT_APPLICABLE",
    "Reading",
    "PublishedRow",
    "TableInfo",
    "PublishedTable",
    "parse_table",
    "parse_file",
]

FORMATS = ("auto", "html", "csv", "markdown", "text", "squashed")
NOT_APPLICABLE = "Not Applicable"
PLATFORMS = ("x86", "x64", "IA-64", "ARM64", NOT_APPLICABLE)

# Resource limits for this layer (candidates for msitools.limits.Limits).
MAX_DOCUMENT_SIZE = 64 * 1024 * 1024
MAX_READINGS_PER_ROW = 256
MAX_COVER_ROWS = 2_000  # distinct reading sets in one group of related squashed rows
MAX_COVER_STEPS = 200_000  # search steps for the smallest set of versions explaining a group
EVIDENCE_MARGIN = 2  # a reading is set aside only if it costs this many more versions
SECTION_MAX_LENGTH = 200  # longer text lines are paragraphs, not section titles

FIELDS = ("name", "version", "size", "date", "time", "platform")  # column order for flat output



def _cell_dict(record) -> dict:
    """The published cells of a reading or a row, as the JSON keys say them."""
    return {"name": record.name, "version": record.version, "size": record.size, "date": record.date,
            "date_iso": record.date_iso, "time": record.time, "platform": record.platform}


# ---------------------------------------------------------------------------
# public records


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
        return _iso_date(self.date)

    def to_dict(self) -> dict:
        return _cell_dict(self)


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
        return _iso_date(self.date)

    def to_dict(self) -> dict:
        out = {
            **_cell_dict(self),
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


# ---------------------------------------------------------------------------
# entry points


def parse_file(path: "str | os.PathLike[str]", format: str = "auto") -> PublishedTable:
    """Read *path* (UTF-8, UTF-16 with BOM, or Windows-1252) and parse it."""
    source = os.fspath(path)
    try:
        with open(source, "rb") as handle:
            data = handle.read(MAX_DOCUMENT_SIZE + 1)
    except OSError as exc:
        raise KbParseError(f"cannot read file: {exc.strerror or exc}", source) from None
    if len(data) > MAX_DOCUMENT_SIZE:
        raise LimitExceeded("kb_document_size", len(data), MAX_DOCUMENT_SIZE, "published table", source)
    return parse_table(_decode(data), source=source, format=format)


def parse_table(text: str, source: str = "<string>", format: str = "auto") -> PublishedTable:
    """Parse every file-information table in *text*.

    Raises :class:`KbParseError` when no table is found or a row is malformed, and
    :class:`UsageError` for an unknown *format*.
    """
    if format not in FORMATS:
        raise UsageError(f"unknown table format {format!r} (expected one of {', '.join(FORMATS)})", source)
    if len(text) > MAX_DOCUMENT_SIZE:
        raise LimitExceeded("kb_document_size", len(text), MAX_DOCUMENT_SIZE, "published table", source)
    text = _normalise_document(text)
    raw = None
    if format == "html" or (format == "auto" and re.search(r"<table\b", text, re.I)):
        raw = _parse_html(text, source)
        if format == "auto" and not raw.tables:
            raw = None  # "<table" in prose, or a text table in <pre>: read it as text
    if raw is None:
        dialects = {
            "auto": ("markdown", "tab", "csv", "spaced", "squashed"),
            "markdown": ("markdown",),
            "csv": ("csv",),
            "text": ("tab", "spaced"),
            "squashed": ("squashed",),
        }[format]
        raw = _parse_text(text, source, dialects)
    if not raw.tables:
        raise KbParseError(
            "no file-information table found (expected a header row naming 'File name' and "
            "'File version' or 'File size')",
            source,
        )
    _resolve(raw.rows)
    rows = [_finish(r) for r in raw.rows]
    kinds = {t.format for t in raw.tables}
    fmt = kinds.pop() if len(kinds) == 1 else "mixed"
    return PublishedTable(source=source, format=fmt, rows=rows, tables=raw.tables)


# ---------------------------------------------------------------------------
# values


class _CellError(Exception):
    """A cell or row does not fit the grammar (internal; becomes KbParseError)."""


class _Cand(NamedTuple):
    """A reading plus the printed size, which the size-style evidence needs."""

    name: str
    version: str | None
    size: int | None
    size_text: str | None
    date: str | None
    time: str | None
    platform: str | None


_MONTHS = {m: i for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)}
_PLATFORM_ALIASES = {
    "x86": "x86",
    "x64": "x64",
    "amd64": "x64",
    "ia-64": "IA-64",
    "ia64": "IA-64",
    "arm64": "ARM64",
    "not applicable": NOT_APPLICABLE,
}
_DASHES = str.maketrans({"\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2212": "-"})
_DATE_DMY = re.compile(r"(\d{1,2})-([A-Za-z]{3})-(\d{4})")
_DATE_ISO = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_TIME = re.compile(r"(\d{1,2}):(\d{2})(?::(\d{2}))?")
_SIZE_GROUPED = re.compile(r"[1-9]\d{0,2}(?:,\d{3})+")
_SIZE_PLAIN = re.compile(r"0|[1-9]\d*")
_VERSION_CELL = re.compile(r"\d+(?:\.\d+){0,3}")
_NA = re.compile(r"not\s+applicable|n/a", re.I)


def _iso_date(text: str | None) -> str | None:
    if not text:
        return None
    m = _DATE_DMY.fullmatch(text)
    if m:
        return datetime.date(int(m.group(3)), _MONTHS[m.group(2).lower()], int(m.group(1))).isoformat()
    return text  # already ISO (validated on input)


def _check_date(text: str) -> str:
    text = text.translate(_DASHES).strip()
    m = _DATE_DMY.fullmatch(text)
    try:
        if m:
            month = _MONTHS.get(m.group(2).lower())
            if month is None:
                raise ValueError
            datetime.date(int(m.group(3)), month, int(m.group(1)))
            return text
        m = _DATE_ISO.fullmatch(text)
        if m:
            datetime.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
            return text
    except ValueError:
        raise _CellError(f"invalid date {text!r}") from None
    raise _CellError(f"invalid date {text!r} (expected dd-Mon-yyyy)")


def _check_time(text: str) -> str:
    m = _TIME.fullmatch(text.strip())
    if not m or int(m.group(1)) > 23 or int(m.group(2)) > 59 or (m.group(3) and int(m.group(3)) > 59):
        raise _CellError(f"invalid time {text!r} (expected HH:MM)")
    out = f"{int(m.group(1)):02d}:{m.group(2)}"
    return out + f":{m.group(3)}" if m.group(3) else out


def _check_platform(text: str) -> str:
    canonical = _PLATFORM_ALIASES.get(re.sub(r"\s+", " ", text.strip()).lower())
    if canonical is None:
        if _NA.fullmatch(text.strip()):
            return NOT_APPLICABLE
        raise _CellError(f"unknown platform {text!r} (expected one of {', '.join(PLATFORMS)})")
    return canonical


def _check_version(text: str) -> str:
    text = text.strip()
    if _NA.fullmatch(text):
        return NOT_APPLICABLE
    if not _VERSION_CELL.fullmatch(text) or any(int(p) > 65535 for p in text.split(".")):
        raise _CellError(f"invalid file version {text!r}")
    return text


def _check_size(text: str) -> int:
    text = text.strip()
    if _SIZE_GROUPED.fullmatch(text) or _SIZE_PLAIN.fullmatch(text):
        return int(text.replace(",", ""))
    raise _CellError(f"invalid file size {text!r}")


# ---------------------------------------------------------------------------
# headers

_FIELD_LABELS = {
    "name": ("file name", "filename", "name", "file"),
    "version": ("file version", "fileversion", "version"),
    "size": ("file size", "filesize", "size", "file size (bytes)", "size (bytes)", "size in bytes"),
    "date": ("date", "file date", "date (utc)", "utc date"),
    "time": ("time", "file time", "time (utc)", "utc time"),
    "platform": ("platform", "cpu", "architecture"),
}
_LABEL_FIELD = {label: f for f, labels in _FIELD_LABELS.items() for label in labels}
# Extra columns known by name, so that a squashed header can be split; their values are ignored.
_IGNORED_LABELS = ("sp requirement", "service branch", "file attributes", "attributes")
_SQUASHED_LABELS = sorted(list(_LABEL_FIELD) + list(_IGNORED_LABELS), key=len, reverse=True)


class _Header(NamedTuple):
    dialect: str  # markdown, tab, csv, spaced, squashed, html
    labels: tuple[str, ...]
    fields: tuple[str | None, ...]  # for squashed: ignored columns are "ignore:<label>"
    line: int


def _norm_label(text: str) -> str:
    text = re.sub(r"[*_`:]", "", text)
    return re.sub(r"\s+", " ", text).strip().lower()


def _header_fields(labels: list[str], source: str, line: int) -> tuple[str | None, ...] | None:
    """Fields of a delimited header, or None when the cells are not a header."""
    fields = [_LABEL_FIELD.get(_norm_label(c)) for c in labels]
    known = [f for f in fields if f]
    if "name" not in known or not ({"version", "size"} & set(known)) or len(known) < 3:
        return None
    dup = [f for f, n in Counter(known).items() if n > 1]
    if dup:
        raise KbParseError(f"line {line}: header names the {dup[0]} column twice: {_show(' | '.join(labels))}", source)
    return tuple(fields)


def _squashed_header(line_text: str) -> tuple[tuple[str, ...], tuple[str | None, ...]] | None:
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
    fields = tuple(_LABEL_FIELD.get(lab, f"ignore:{lab}") for _, lab in parts)
    known = [f for f in fields if f and not f.startswith("ignore:")]
    if "name" not in known or not ({"version", "size"} & set(known)) or len(known) < 3:
        return None
    if len(set(known)) != len(known):
        return None
    return labels, fields


# ---------------------------------------------------------------------------
# text dialects

_MD_SEPARATOR = re.compile(r"\s*\|?\s*:?-{3,}:?\s*(?:\|\s*:?-{3,}:?\s*)*\|?\s*")
_FILE_NAME_LIKE = re.compile(r"\S+\.[A-Za-z][A-Za-z0-9]*")
_DATE_TOKEN = re.compile(r"\d{1,2}-[A-Za-z]{3}-\d{4}")
_TIME_TOKEN = re.compile(r"\d{1,2}:\d{2}")
_SQUASHED_ROWLIKE = re.compile(r"\d{1,2}-[A-Za-z]{3}-\d{4}\s*\d{1,2}:\d{2}|^\S+\.[A-Za-z]+(?:\d|Not\s)", re.I)


def _split_cells(dialect: str, line: str) -> list[str] | None:
    """Cells of *line* in a delimited dialect, or None when the line has no delimiter."""
    if dialect == "markdown":
        s = line.strip()
        if "|" not in s:
            return None
        if s.startswith("|"):
            s = s[1:]
        if s.endswith("|") and not s.endswith("\\|"):
            s = s[:-1]
        cells = re.split(r"(?<!\\)\|", s)
        return [_strip_md(c.replace("\\|", "|")) for c in cells]
    if dialect == "tab":
        if "\t" not in line:
            return None
        return [c.strip() for c in line.strip("\r\n ").split("\t")]
    if dialect == "csv":
        if "," not in line:
            return None
        try:
            return [c.strip() for c in next(csv.reader([line]))]
        except (csv.Error, StopIteration):
            return None
    if dialect == "spaced":
        cells = re.split(r"\s{2,}|\t", line.strip())
        return cells if len(cells) >= 2 else None
    raise AssertionError(dialect)


def _strip_md(cell: str) -> str:
    cell = cell.strip()
    for mark in ("**", "__", "`", "*", "_"):
        if len(cell) > 2 * len(mark) and cell.startswith(mark) and cell.endswith(mark):
            cell = cell[len(mark):-len(mark)].strip()
    return _unescape(cell)


def _unescape(text: str) -> str:
    if "&" not in text:
        return text
    return _clean(html.unescape(text))


def _detect_header(line: str, line_no: int, dialects: Iterable[str], source: str) -> _Header | None:
    low = line.lower()
    if "name" not in low and "file" not in low:
        return None
    for dialect in dialects:
        if dialect == "squashed":
            found = _squashed_header(line)
            if found:
                return _Header("squashed", found[0], found[1], line_no)
            continue
        cells = _split_cells(dialect, line)
        if cells is None:
            continue
        fields = _header_fields(cells, source, line_no)
        if fields:
            return _Header(dialect, tuple(cells), fields, line_no)
    return None


class _RawRow:
    __slots__ = ("line", "section", "cands", "original")

    def __init__(self, line: int, section: str, cands: list[_Cand]):
        self.line = line
        self.section = section
        self.cands = cands
        self.original = tuple(cands)


class _Raw:
    def __init__(self) -> None:
        self.rows: list[_RawRow] = []
        self.tables: list[TableInfo] = []


_DIALECT_FORMAT = {"markdown": "markdown", "tab": "text", "spaced": "text", "csv": "csv",
                   "squashed": "squashed", "html": "html"}


def _parse_text(text: str, source: str, dialects: tuple[str, ...]) -> _Raw:
    lines = text.split("\n")
    raw = _Raw()
    i = 0
    last_end = 0
    while i < len(lines):
        header = _detect_header(lines[i], i + 1, dialects, source)
        if header is None:
            i += 1
            continue
        section = _section_before(lines[last_end:i])
        i, rows = _read_text_rows(lines, i + 1, header, section, dialects, source)
        if not rows:
            raise KbParseError(f"line {header.line}: table header has no rows: {_show(lines[header.line - 1])}", source)
        raw.rows.extend(rows)
        raw.tables.append(TableInfo(header.line, _DIALECT_FORMAT[header.dialect], section,
                                    header.labels, _public_fields(header.fields), len(rows)))
        last_end = i
    return raw


def _public_fields(fields: tuple[str | None, ...]) -> tuple[str | None, ...]:
    return tuple(None if f is None or f.startswith("ignore:") else f for f in fields)


def _section_before(lines: list[str]) -> str:
    for line in reversed(lines):
        title = _section_title(line)
        if title is not None:
            return title
    return ""


def _section_title(line: str) -> str | None:
    """A short non-blank line as a section title; None for blank lines and paragraphs."""
    text = _clean(_unescape(line))
    text = re.sub(r"^#{1,6}\s*", "", text)
    text = re.sub(r"^\|+|\|+$", "", text).strip()
    text = _strip_md(text).rstrip(":").strip()
    if not text or len(text) > SECTION_MAX_LENGTH:
        return None
    return text


def _looks_like_row(line: str, header: _Header) -> bool:
    """True when *line* is meant as a row of the table (so a failure is an error)."""
    if header.dialect == "squashed":
        return bool(_SQUASHED_ROWLIKE.search(line.strip()))
    cells = _split_cells(header.dialect, line)
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
    numeric = any(_VERSION_CELL.fullmatch(c.strip()) or _SIZE_GROUPED.fullmatch(c.strip()) for c in cells)
    return numeric and len(cells) >= len(header.fields) - 1


def _read_text_rows(lines: list[str], i: int, header: _Header, section: str,
                    dialects: tuple[str, ...], source: str) -> tuple[int, list[_RawRow]]:
    rows: list[_RawRow] = []
    n = len(lines)
    while i < n:
        line = lines[i]
        if not line.strip() or (header.dialect == "markdown" and _MD_SEPARATOR.fullmatch(line)):
            i += 1
            continue
        if _detect_header(line, i + 1, dialects, source):
            break
        try:
            cands = _row_candidates(line, header, source, i + 1)
        except _CellError as exc:
            if _looks_like_row(line, header):
                raise KbParseError(f"line {i + 1}: {exc}: {_show(line)}", source) from None
            title = _section_title(line)
            j = i + 1
            while j < n and not lines[j].strip():
                j += 1
            if (title is not None and j < n and not _detect_header(lines[j], j + 1, dialects, source)
                    and (_looks_like_row(lines[j], header) or _parses_as_row(lines[j], header, source, j + 1))):
                section = title
                i += 1
                continue
            break
        rows.append(_RawRow(i + 1, section, cands))
        i += 1
    return i, rows


def _parses_as_row(line: str, header: _Header, source: str, line_no: int) -> bool:
    try:
        _row_candidates(line, header, source, line_no)
    except _CellError:
        return False
    return True


def _row_candidates(line: str, header: _Header, source: str, line_no: int) -> list[_Cand]:
    if header.dialect == "squashed":
        return _squashed_readings(line, header.fields, source, line_no)
    cells = _split_cells(header.dialect, line)
    if cells is None:
        raise _CellError(f"not a row of the table declared on line {header.line}")
    return [_delimited_row(cells, header)]


def _delimited_row(cells: list[str], header: _Header) -> _Cand:
    fields = header.fields
    want = len(fields)
    if header.dialect == "tab":
        while len(cells) > want and cells[-1] == "":
            cells = cells[:-1]
    if len(cells) > want and header.dialect == "csv" and "size" in fields:
        cells = _rejoin_csv_size(cells, fields)
    if len(cells) != want:
        raise _CellError(f"row has {len(cells)} cells, the header has {want}")
    values: dict[str, object] = {}
    for f, cell in zip(fields, cells):
        if f is None:
            continue
        cell = _clean(cell)
        if f == "name":
            if not cell:
                raise _CellError("empty file name")
            values["name"] = cell
        elif not cell:
            if f == "size":
                raise _CellError("empty file size")
            values[f] = None
        elif f == "version":
            values["version"] = _check_version(cell)
        elif f == "size":
            values["size"] = _check_size(cell)
            values["size_text"] = cell
        elif f == "date":
            values["date"] = _check_date(cell)
        elif f == "time":
            values["time"] = _check_time(cell)
        elif f == "platform":
            values["platform"] = _check_platform(cell)
    return _Cand(values.get("name"), values.get("version"), values.get("size"), values.get("size_text"),
                 values.get("date"), values.get("time"), values.get("platform"))


def _rejoin_csv_size(cells: list[str], fields: tuple[str | None, ...]) -> list[str]:
    """Undo an unquoted ``1,172,328`` that CSV split into three cells, when unambiguous."""
    extra = len(cells) - len(fields)
    k = fields.index("size")
    joined = ",".join(cells[k:k + extra + 1])
    if _SIZE_GROUPED.fullmatch(joined):
        return cells[:k] + [joined] + cells[k + extra + 1:]
    return cells


# ---------------------------------------------------------------------------
# squashed rows

# Extensions that contain digits; any other extension is letters only, so that the version
# after ``Msvcr100.dll10.0...`` cannot start inside the extension.
_EXT_WITH_DIGITS = ("ps1xml", "ps1", "psd1", "psm1", "mp3", "mp4", "h264")
_NOT_APPLICABLE_AT = re.compile(r"not\s+applicable", re.I)
_SP_REQUIREMENT_AT = re.compile(r"None|Not\s+applicable|RTM|SP\d{1,2}", re.I)
_BRANCH_AT = re.compile(r"[A-Z][A-Z0-9]*(?:\\WOW)?")
_PLATFORM_AT = re.compile(r"not\s+applicable|amd64|arm64|ia-?64|x86|x64", re.I)
_DATE_AT = (re.compile(r"(\d{2})-([A-Za-z]{3})-(\d{4})"), re.compile(r"(\d)-([A-Za-z]{3})-(\d{4})"))
_TIME_AT = (re.compile(r"\d{1,2}:\d{2}:\d{2}"), re.compile(r"\d{1,2}:\d{2}"))
_VERSION_PART = re.compile(r"0|[1-9]\d{0,4}")


def _name_ends(s: str, pos: int) -> Iterator[int]:
    """End offsets of file names starting at *pos* (the name ends in ``.extension``)."""
    for m in re.finditer(r"\.([A-Za-z]+)", s[pos:]):
        if m.start() == 0:
            continue
        start = pos + m.start(1)
        for end in range(start + 1, pos + m.end(1) + 1):
            yield end
        tail = s[start:start + 8].lower()
        for ext in _EXT_WITH_DIGITS:
            if tail.startswith(ext):
                yield start + len(ext)


def _match_name(s: str, pos: int) -> list[tuple[int, object]]:
    out = []
    for end in sorted(set(_name_ends(s, pos))):
        name = s[pos:end].strip()
        if name and "\t" not in name:
            out.append((end, name))
    return out


def _match_version(s: str, pos: int) -> list[tuple[int, object]]:
    m = _NOT_APPLICABLE_AT.match(s, pos)
    if m:
        return [(m.end(), NOT_APPLICABLE)]
    run = re.compile(r"[0-9.]*").match(s, pos).group()
    out = []
    for length in range(1, len(run) + 1):
        text = run[:length]
        if text.endswith("."):
            continue
        parts = text.split(".")
        if len(parts) > 4 or not all(_VERSION_PART.fullmatch(p) and int(p) <= 65535 for p in parts):
            continue
        out.append((pos + length, text))
    return out


def _match_size(s: str, pos: int) -> list[tuple[int, object]]:
    run = re.compile(r"[0-9,]*").match(s, pos).group()
    out = []
    for length in range(1, len(run) + 1):
        text = run[:length]
        if _SIZE_GROUPED.fullmatch(text) or _SIZE_PLAIN.fullmatch(text):
            out.append((pos + length, text))
    return out


def _match_checked(patterns, check, s: str, pos: int) -> list[tuple[int, object]]:
    """Every pattern that matches at *pos* and whose text *check* accepts: (end, checked value)."""
    out = []
    for rx in patterns:
        m = rx.match(s, pos)
        if m:
            try:
                out.append((m.end(), check(m.group())))
            except _CellError:
                pass
    return out


def _match_date(s: str, pos: int) -> list[tuple[int, object]]:
    return _match_checked(_DATE_AT, _check_date, s, pos)


def _match_time(s: str, pos: int) -> list[tuple[int, object]]:
    return _match_checked(_TIME_AT, _check_time, s, pos)


def _match_platform(s: str, pos: int) -> list[tuple[int, object]]:
    m = _PLATFORM_AT.match(s, pos)
    return [(m.end(), _check_platform(m.group()))] if m else []


def _match_regex(rx: re.Pattern) -> Callable[[str, int], list[tuple[int, object]]]:
    def match(s: str, pos: int) -> list[tuple[int, object]]:
        m = rx.match(s, pos)
        return [(m.end(), None)] if m else []
    return match


def _match_any(s: str, pos: int) -> list[tuple[int, object]]:
    return [(end, None) for end in range(pos + 1, len(s) + 1)]


_MATCHERS: dict[str, Callable[[str, int], list[tuple[int, object]]]] = {
    "name": _match_name,
    "version": _match_version,
    "size": _match_size,
    "date": _match_date,
    "time": _match_time,
    "platform": _match_platform,
    "ignore:sp requirement": _match_regex(_SP_REQUIREMENT_AT),
    "ignore:service branch": _match_regex(_BRANCH_AT),
}


def _squashed_readings(line: str, fields: tuple[str | None, ...], source: str, line_no: int) -> list[_Cand]:
    """Every reading of a glued row allowed by the grammar, in enumeration order."""
    s = line.strip()
    n = len(s)
    matchers = [_MATCHERS.get(f, _match_any) for f in fields]
    memo: dict[tuple[int, int], list[tuple]] = {}
    budget = [MAX_READINGS_PER_ROW * 16]

    def go(k: int, pos: int) -> list[tuple]:
        if k == len(fields):
            return [()] if pos == n else []
        key = (k, pos)
        if key in memo:
            return memo[key]
        out: list[tuple] = []
        for end, value in matchers[k](s, pos):
            nxt = end
            while nxt < n and s[nxt].isspace():
                nxt += 1
            for rest in go(k + 1, nxt):
                out.append(((s[pos:end], value),) + rest)
                budget[0] -= 1
                if budget[0] < 0:
                    raise _TooMany
        memo[key] = out
        return out

    try:
        found = go(0, 0)
    except _TooMany:
        found = None
    if found is None or len(found) > MAX_READINGS_PER_ROW:
        raise KbParseError(f"line {line_no}: squashed row has more than {MAX_READINGS_PER_ROW} "
                           f"possible readings: {_show(line)}", source)
    cands: list[_Cand] = []
    seen: set[_Cand] = set()
    for reading in found:
        values = {f: (text, value) for f, (text, value) in zip(fields, reading) if f}
        size = values.get("size")
        cand = _Cand(
            values["name"][1] if "name" in values else None,
            values["version"][1] if "version" in values else None,
            int(size[0].replace(",", "")) if size else None,
            size[0] if size else None,
            values["date"][1] if "date" in values else None,
            values["time"][1] if "time" in values else None,
            values["platform"][1] if "platform" in values else None,
        )
        if cand not in seen:
            seen.add(cand)
            cands.append(cand)
    if not cands:
        raise _CellError("no reading of the glued cells fits the columns "
                         + " ".join(f.replace("ignore:", "") for f in fields if f))
    return cands


class _TooMany(Exception):
    pass


# ---------------------------------------------------------------------------
# evidence


def _size_style(c: _Cand) -> str | None:
    if c.size_text is None:
        return None
    if "," in c.size_text:
        return "grouped"
    return "plain" if c.size is not None and c.size >= 1000 else None


def _version_key(c: _Cand) -> str | None:
    return c.version if c.version and c.version != NOT_APPLICABLE else None


def _build_key(c: _Cand) -> str | None:
    v = _version_key(c)
    return v.rsplit(".", 1)[-1] if v and "." in v else None


def _date_key(c: _Cand) -> str | None:
    return c.date


def _resolve(rows: list[_RawRow]) -> None:
    """Narrow the readings of every row with document-wide evidence (see module docs)."""
    if all(len(r.cands) == 1 for r in rows):
        return
    # 1. size style
    certain = Counter()
    for r in rows:
        styles = {_size_style(c) for c in r.cands}
        if len(styles) == 1 and None not in styles:
            certain[styles.pop()] += 1
    if len(certain) == 1:
        style = next(iter(certain))
        other = "plain" if style == "grouped" else "grouped"
        for r in rows:
            kept = [c for c in r.cands if _size_style(c) != other]
            if kept and len(kept) < len(r.cands):
                r.cands = kept
    # 2-4. fewest versions, then build numbers, then dates, until nothing changes
    changed = True
    while changed:
        changed = False
        for key in (_version_key, _build_key, _date_key):
            if all(len(r.cands) == 1 for r in rows):
                return
            allowed = _cover_evidence([frozenset(key(c) for c in r.cands) for r in rows])
            for r, ok in zip(rows, allowed):
                kept = [c for c in r.cands if key(c) in ok]
                if kept and len(kept) < len(r.cands):
                    r.cands = kept
                    changed = True


def _cover_evidence(row_values: list[frozenset]) -> list[frozenset]:
    """For each row, the values that the table does not rule out.

    The table should need as few distinct values (versions, builds, dates) as possible.  A
    value of a row is kept when either test keeps it:

    (A) it belongs to some smallest set of values that gives every row a reading;
    (B) reading the row as that value *alone* (its other values unused by the table) needs
        fewer than EVIDENCE_MARGIN values more than the row's best such reading, and leaves
        no other row without a reading.

    (A) alone would read two rows ``...14151,234,567`` / ``...14162,345,678`` as the shared
    ``...141`` (one version instead of two); (B) alone would reject the true ``...149`` of a
    row that could also be ``...1`` whenever other rows really use ``...1``.  Keeping what
    either keeps leaves such rows ambiguous.  Rows are solved in groups linked by shared
    values; a group whose search exceeds the budget keeps all its values.
    """
    parent: dict = {}

    def find(x):
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for values in row_values:
        first = next(iter(values))
        for v in values:
            parent[find(v)] = find(first)
    groups: dict = {}
    for values in row_values:
        groups.setdefault(find(next(iter(values))), set()).add(values)
    verdict: dict[frozenset, frozenset] = {}
    for sets in groups.values():
        try:
            verdict.update(_group_evidence(sets))
        except _TooMany:
            verdict.update({v: v for v in sets})
    return [verdict[v] for v in row_values]


def _group_evidence(sets: set[frozenset]) -> dict[frozenset, frozenset]:
    """Allowed values for every kind of row in one group (see :func:`_cover_evidence`)."""
    if len(sets) == 1:
        return {v: v for v in sets}
    if len(sets) > MAX_COVER_ROWS:
        raise _TooMany
    minimal = _minimal_sets(sets)
    budget = [MAX_COVER_STEPS]
    # (A) values that belong to some smallest explanation of the group
    k = _min_hitting(minimal, budget, len(minimal) + 1)
    in_smallest = set()
    for v in set().union(*sets):
        rest = [t for t in minimal if v not in t]
        if 1 + _min_hitting(rest, budget, k) == k:
            in_smallest.add(v)
    out = {}
    for values in sets:
        if len(values) == 1:
            out[values] = values
            continue
        # (B) cost of reading this row as u alone (its other values unused by the table)
        cost = {}
        for u in values:
            others = values - {u}
            rest = []
            for t in minimal:
                if u in t:
                    continue
                t = t - others
                if not t:
                    break
                rest.append(t)
            else:
                cost[u] = 1 + _min_hitting(_minimal_sets(set(rest)), budget, len(rest) + 1)
        best = min(cost.values()) if cost else 0
        plausible = {u for u, c in cost.items() if c < best + EVIDENCE_MARGIN} if cost else set(values)
        out[values] = frozenset((values & in_smallest) | plausible)
    return out


def _minimal_sets(sets: set[frozenset]) -> list[frozenset]:
    """Drop every set that contains another one (meeting the smaller one meets it too)."""
    ordered = sorted(sets, key=len)
    kept: list[frozenset] = []
    for s in ordered:
        if not any(k <= s for k in kept):
            kept.append(s)
    return kept


def _min_hitting(sets: list[frozenset], budget: list[int], bound: int) -> int:
    """Size of the smallest set meeting all *sets*, or *bound* if it is not below *bound*."""
    if not sets:
        return 0
    if bound <= 1:
        return bound
    budget[0] -= 1
    if budget[0] < 0:
        raise _TooMany
    best = bound
    for v in min(sets, key=len):
        rest = [t for t in sets if v not in t]
        size = 1 + _min_hitting(rest, budget, best - 1)
        best = min(best, size)
    return best


def _reading(c: _Cand) -> Reading:
    return Reading(c.name, c.version, c.size, c.date, c.time, c.platform)


def _finish(r: _RawRow) -> PublishedRow:
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


# ---------------------------------------------------------------------------
# HTML


class _HtmlTable:
    def __init__(self, section: str):
        self.section = section
        self.caption: list[str] = []
        self.rows: list[tuple[int, list[tuple[str, int]]]] = []  # (line, [(text, colspan)])
        self.row: list[tuple[str, int]] | None = None
        self.row_line = 0
        self.cell: list[str] | None = None
        self.cell_span = 1
        self.in_caption = False

    def close_cell(self) -> None:
        if self.cell is not None:
            if self.row is None:
                self.row = []
            self.row.append((_clean("".join(self.cell)), self.cell_span))
            self.cell = None

    def close_row(self) -> None:
        self.close_cell()
        if self.row is not None:
            self.rows.append((self.row_line, self.row))
            self.row = None


_BLOCK_TAGS = {"p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "li", "ul", "ol", "dl", "dt", "dd", "section",
               "article", "header", "footer", "blockquote", "pre", "title", "body", "head", "html", "hr",
               "main", "nav", "aside", "figure", "figcaption", "summary", "details"}


class _HtmlExtractor(HTMLParser):
    """Collects tables (rows of cell texts with their line numbers) and the text before each."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[str] = []
        self.buf: list[str] = []
        self.tables: list[_HtmlTable] = []
        self.stack: list[_HtmlTable] = []
        self.last_end = 0
        self.skip = 0

    def flush(self) -> None:
        text = _clean("".join(self.buf))
        self.buf = []
        if text:
            self.blocks.append(text)

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag in ("script", "style", "template"):
            self.skip += 1
            return
        top = self.stack[-1] if self.stack else None
        if tag == "table":
            self.flush()
            section = ""
            for text in reversed(self.blocks[self.last_end:]):
                title = _section_title(text)
                if title is not None:
                    section = title
                    break
            table = _HtmlTable(section)
            self.tables.append(table)
            self.stack.append(table)
        elif top is not None and tag == "caption":
            top.in_caption = True
        elif top is not None and tag == "tr":
            self.flush()
            top.close_row()
            top.row = []
            top.row_line = self.getpos()[0]
        elif top is not None and tag in ("td", "th"):
            self.flush()
            top.close_cell()
            if top.row is None:
                top.row = []
                top.row_line = self.getpos()[0]
            span = 1
            for key, value in attrs:
                if key == "colspan" and value and value.strip().isdigit():
                    span = max(1, min(int(value.strip()), 1000))
            top.cell = []
            top.cell_span = span
        elif tag == "br":
            self.flush()
            if top is not None and top.cell is not None:
                top.cell.append(" ")
        elif tag in _BLOCK_TAGS:
            self.flush()

    def handle_startendtag(self, tag: str, attrs) -> None:
        if tag in ("script", "style", "template"):
            return
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "template"):
            self.skip = max(0, self.skip - 1)
            return
        top = self.stack[-1] if self.stack else None
        if tag == "table" and top is not None:
            self.flush()
            top.close_row()
            self.stack.pop()
            self.last_end = len(self.blocks)
        elif top is not None and tag == "caption":
            top.in_caption = False
        elif top is not None and tag in ("td", "th"):
            self.flush()
            top.close_cell()
        elif top is not None and tag == "tr":
            self.flush()
            top.close_row()
        elif tag in _BLOCK_TAGS:
            self.flush()

    def handle_data(self, data: str) -> None:
        if self.skip:
            return
        top = self.stack[-1] if self.stack else None
        if top is not None and top.in_caption:
            top.caption.append(data)
            return
        self.buf.append(data)
        if top is not None and top.cell is not None:
            top.cell.append(data)

    def finish(self) -> None:
        self.close()
        self.flush()
        while self.stack:
            self.stack.pop().close_row()


def _parse_html(text: str, source: str) -> _Raw:
    parser = _HtmlExtractor()
    try:
        parser.feed(text)
        parser.finish()
    except (AssertionError, ValueError) as exc:  # html.parser's own complaints
        raise KbParseError(f"unreadable HTML: {exc}", source) from None
    raw = _Raw()
    for table in parser.tables:
        section = _clean("".join(table.caption)) or table.section
        header: _Header | None = None
        header_section = section
        info_rows = 0
        for line, cells in table.rows:
            texts = [t for t, span in cells for t in [t] + [""] * (span - 1)]
            nonempty = [t for t in texts if t]
            fields = _header_fields(texts, source, line) if texts else None
            if fields:
                if header is not None:
                    _close_html_table(raw, header, header_section, info_rows)
                header = _Header("html", tuple(texts), fields, line)
                header_section = section
                info_rows = 0
                continue
            if not nonempty:
                continue
            if len(nonempty) == 1 and (header is None or len(cells) < len(header.fields)):
                title = _section_title(nonempty[0])
                if title is not None:
                    section = title
                continue
            if header is None:
                continue  # a table without a file-information header (layout, prose)
            try:
                cand = _delimited_row(texts, header)
            except _CellError as exc:
                raise KbParseError(f"line {line}: {exc}: {_show(' | '.join(texts))}", source) from None
            raw.rows.append(_RawRow(line, section, [cand]))
            info_rows += 1
        if header is not None:
            _close_html_table(raw, header, header_section, info_rows)
    for info in raw.tables:
        if info.rows == 0:
            raise KbParseError(f"line {info.line}: table header has no rows: {_show(' | '.join(info.labels))}",
                               source)
    return raw


def _close_html_table(raw: _Raw, header: _Header, section: str, rows: int) -> None:
    raw.tables.append(TableInfo(header.line, "html", section, header.labels, header.fields, rows))


# ---------------------------------------------------------------------------
# text helpers


def _decode(data: bytes) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def _normalise_document(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text.replace("\ufeff", "").replace("\u200b", "").replace("\xa0", " ")


def _clean(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("\xa0", " ").replace("\u200b", "")).strip()


def _show(text: str) -> str:
    text = _clean(text)
    return repr(text if len(text) <= 100 else text[:97] + "...")
