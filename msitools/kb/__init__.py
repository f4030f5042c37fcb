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

import os
import re

from msitools.errors import KbParseError, UsageError
from msitools.kb.cells import (
    FIELDS,
    NOT_APPLICABLE,
    PLATFORMS,
    decode_document,
    normalise_document,
)
from msitools.kb.evidence import resolve
from msitools.kb.html import parse_html
from msitools.kb.records import (
    PublishedRow,
    PublishedTable,
    Reading,
    TableInfo,
    finish_row,
)
from msitools.kb.text import parse_text
from msitools.limits import DEFAULT_LIMITS, Limits

__all__ = [
    "FIELDS",
    "FORMATS",
    "NOT_APPLICABLE",
    "PLATFORMS",
    "PublishedRow",
    "PublishedTable",
    "Reading",
    "TableInfo",
    "parse_file",
    "parse_table",
]


FORMATS = ("auto", "html", "csv", "markdown", "text", "squashed")


def parse_file(path: str | os.PathLike[str], format: str = "auto",
               limits: Limits = DEFAULT_LIMITS) -> PublishedTable:
    """Read *path* (UTF-8, UTF-16 with BOM, or Windows-1252) and parse it."""
    source = os.fspath(path)
    try:
        with open(source, "rb") as handle:
            data = handle.read(limits.kb_document_size + 1)
    except OSError as exc:
        raise KbParseError(f"cannot read file: {exc.strerror or exc}", source) from None
    limits.check("kb_document_size", len(data), "published table", source)
    return parse_table(decode_document(data), source=source, format=format, limits=limits)


def parse_table(text: str, source: str = "<string>", format: str = "auto",
                limits: Limits = DEFAULT_LIMITS) -> PublishedTable:
    """Parse every file-information table in *text*.

    Raises :class:`KbParseError` when no table is found or a row is malformed, and
    :class:`UsageError` for an unknown *format*.
    """
    if format not in FORMATS:
        raise UsageError(f"unknown table format {format!r} (expected one of {', '.join(FORMATS)})", source)
    limits.check("kb_document_size", len(text), "published table", source)
    text = normalise_document(text)
    raw = None
    if format == "html" or (format == "auto" and re.search(r"<table\b", text, re.I)):
        raw = parse_html(text, source)
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
        raw = parse_text(text, source, dialects, limits)
    if not raw.tables:
        raise KbParseError(
            "no file-information table found (expected a header row naming 'File name' and "
            "'File version' or 'File size')",
            source,
        )
    resolve(raw.rows, limits)
    rows = [finish_row(r) for r in raw.rows]
    kinds = {t.format for t in raw.tables}
    fmt = kinds.pop() if len(kinds) == 1 else "mixed"
    return PublishedTable(source=source, format=fmt, rows=rows, tables=raw.tables)
