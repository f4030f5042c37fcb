"""Plain-text helpers shared by the report renderers and the CLI: tables (tabulate), CSV, values."""
from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any


def printable(value: Any) -> str:
    """Text-mode rendering of a value: NULL as empty, control characters escaped."""
    if value is None:
        return ""
    text = str(value)
    if any(ord(ch) < 32 for ch in text):
        text = "".join(ch if ord(ch) >= 32 else f"\\x{ord(ch):02x}" for ch in text)
    return text


def show_value(value: Any) -> str:
    """A value in a sentence: NULL, numbers bare, strings quoted."""
    if value is None:
        return "NULL"
    if isinstance(value, str):
        return repr(printable(value))
    return str(value)


def render_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    from tabulate import tabulate

    return tabulate([[printable(v) for v in row] for row in rows], headers=list(headers),
                    tablefmt="simple", disable_numparse=True)


def render_csv(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(headers)
    for row in rows:
        writer.writerow(["" if v is None else v for v in row])
    return buf.getvalue()


def key_value_lines(pairs: Iterable[tuple[str, Any]]) -> str:
    pairs = list(pairs)
    width = max((len(k) for k, _ in pairs), default=0)
    return "\n".join(f"{k + ':':<{width + 1}} {printable(v)}" for k, v in pairs)
