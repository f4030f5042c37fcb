"""Published file-information tables (the "File information" section of a Microsoft KB article).

:func:`parse_file` / :func:`parse_table` read every file-information table of a document
into :class:`PublishedRow` records, each with its :class:`~msitools.kb.records.Section`
(title, context and platform) and the cells as printed.  The parser reads what is
printed and never guesses: a row that cannot be read with certainty is an error naming
its line, or ``ambiguous`` with its readings; a table the parser recognises as a file
table but cannot read is an error, never skipped.

Input formats (``format``), each a module of this package:

``html``      ``<table>`` elements with a header row (:mod:`~msitools.kb.html`);
``markdown``  pipe tables, column or transposed per-file blocks (:mod:`~msitools.kb.markdown`),
              and ``<table>`` blocks inside Markdown;
``fixed``     fixed-width listings of older articles (:mod:`~msitools.kb.fixed`);
``csv``, ``text``  delimited text: CSV, tabs, two or more spaces (:mod:`~msitools.kb.dialects`);
``squashed``  cells glued together, as archived pages print them (:mod:`~msitools.kb.squashed`,
              with the document-wide evidence of :mod:`~msitools.kb.evidence`);
``auto``      an HTML document is read as HTML; any other document is scanned for every
              kind of table at once (:mod:`~msitools.kb.text`).

The cell grammar (dates, times, sizes, versions, platforms) is :mod:`~msitools.kb.cells`;
column labels in English, German, Dutch, French and Spanish are :mod:`~msitools.kb.columns`;
sections are :mod:`~msitools.kb.sections`.  ``docs/published-tables.md`` has the details.
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


FORMATS = ("auto", "html", "csv", "markdown", "text", "fixed", "squashed")
# what the text scan looks for, per input format (html: HTML <table> blocks inside text)
_TEXT_DIALECTS = {
    "auto": ("html", "markdown", "fixed", "tab", "csv", "spaced", "squashed"),
    "markdown": ("markdown", "html"),
    "csv": ("csv",),
    "text": ("fixed", "tab", "spaced"),
    "fixed": ("fixed",),
    "squashed": ("squashed",),
}
_HTML_DOCUMENT = re.compile(r"\A\s*(?:<!doctype|<html|<\?xml|<head|<body|<div|<table|<p\b|<h[1-6])", re.I)


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
    if format == "html" or (format == "auto" and _HTML_DOCUMENT.match(text)):
        raw = parse_html(text, source)
        if format == "auto" and not raw.tables:
            raw = None  # a page whose table is a text listing inside <pre>: read it as text
    if raw is None:
        raw = parse_text(text, source, _TEXT_DIALECTS[format], limits)
    if not raw.tables:
        raise KbParseError(
            "no file-information table found (expected a header row naming 'File name' and "
            "'File version' or 'File size')",
            source,
        )
    resolve(raw.rows, limits)
    rows = [finish_row(r, raw.slash_order.get(id(r.section), "mdy")) for r in raw.rows]
    kinds = {t.format for t in raw.tables}
    fmt = kinds.pop() if len(kinds) == 1 else "mixed"
    return PublishedTable(source=source, format=fmt, rows=rows, tables=raw.tables)
