"""The IDT text archive format (what msidump writes, msibuild and MsiDatabaseImport read).

Per table: line 1 column names, line 2 column types (s72, L255, i2, V0 ...),
line 3 the table name followed by its primary-key columns, then one line per
row; fields separated by TAB, lines by CR LF, NULL written as an empty field.
Inside values, TAB, LF and CR are written as 0x10, 0x19 and 0x11 (the
documented archive escapes).  Two pseudo tables: ``_ForceCodepage`` (the string
pool codepage) and ``_SummaryInformation`` (PropertyId / Value).
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from msitools.db.columns import Column

_ESCAPES = str.maketrans({"\t": "\x10", "\n": "\x19", "\r": "\x11"})
CRLF = "\r\n"


def escape(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value.translate(_ESCAPES)
    return str(value)


def header_lines(table: str, columns: Sequence[Column]) -> str:
    keys = [c.name for c in columns if c.key]
    return (
        "\t".join(c.name for c in columns) + CRLF
        + "\t".join(c.idt_type for c in columns) + CRLF
        + "\t".join([table] + keys) + CRLF
    )


def _column_text(values: Sequence[Any], is_string: bool) -> list[str]:
    if is_string:
        present = [v for v in values if v]
        joined = "".join(present)
        if "\t" in joined or "\n" in joined or "\r" in joined:
            return [v.translate(_ESCAPES) if v else "" for v in values]
        return [v or "" for v in values]
    return ["" if v is None else str(v) for v in values]


def rows_text(columns: Sequence[Column], rows: Sequence[Sequence[Any]]) -> str:
    """IDT lines for *rows* (each ending in CR LF)."""
    rows = list(rows)
    if not rows:
        return ""
    cols = list(zip(*rows))
    texts = [_column_text(values, column.is_string or column.is_binary) for values, column in zip(cols, columns)]
    return CRLF.join(["\t".join(cells) for cells in zip(*texts)]) + CRLF


def table_text(table: str, columns: Sequence[Column], rows: Sequence[Sequence[Any]]) -> str:
    """The whole IDT file of a table (rows in the given order)."""
    return header_lines(table, columns) + rows_text(columns, rows)


def force_codepage_text(codepage: int) -> str:
    return f"{CRLF}{CRLF}{codepage}\t_ForceCodepage{CRLF}"


def summary_value(value: Any) -> str:
    if isinstance(value, datetime):
        return value.strftime("%Y/%m/%d %H:%M:%S")
    if value is None:
        return ""
    return escape(value)


def summary_text(values: dict[int, Any]) -> str:
    lines = [f"PropertyId\tValue{CRLF}i2\tl255{CRLF}_SummaryInformation\tPropertyId{CRLF}"]
    for pid in sorted(values):
        lines.append(f"{pid}\t{summary_value(values[pid])}{CRLF}")
    return "".join(lines)
