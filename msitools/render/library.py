"""Renderers of ``scan`` summaries and ``query`` answers: text and CSV (JSON is the report itself)."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from msitools.render.options import PLAIN, RenderOptions, takes_options
from msitools.render.text import printable, render_csv, render_table


@takes_options
def answer_text(report: dict[str, Any], options: RenderOptions = PLAIN) -> str:
    """A table when it fits the width; else one block of ``column: value`` lines per row (as psql's ``\\x``)."""
    if not report["rows"]:
        return f"{report['question']}: no rows"
    count = f"({len(report['rows'])} rows)"
    table = render_table(report["columns"], report["rows"])
    if max(map(len, table.splitlines())) <= options.width:
        return table + "\n" + count
    label = max(map(len, report["columns"])) + 1
    blocks = []
    for n, row in enumerate(report["rows"], start=1):
        head = f"-[ {n} ]"
        blocks.append(head + "-" * max(0, min(options.width, 40) - len(head)))
        blocks += [f"{column + ':':<{label}} {printable(value)}".rstrip()
                   for column, value in zip(report["columns"], row)]
    return "\n".join(blocks) + "\n" + count


def answer_csv(report: dict[str, Any]) -> str:
    return render_csv(report["columns"], report["rows"])


SCAN_ERRORS_SHOWN = 10


def scan_text(summary: Any) -> str:
    d = summary.to_dict() if hasattr(summary, "to_dict") else summary
    lines = [f"scanned {d['scanned']}, skipped {d['skipped']} unchanged, {d['failed']} unreadable, "
             f"{d['removed']} removed (of {d['found']} found)"]
    lines += [f"  unreadable: {e}" for e in d["errors"][:SCAN_ERRORS_SHOWN]]
    if len(d["errors"]) > SCAN_ERRORS_SHOWN:
        lines.append(f"  ... and {len(d['errors']) - SCAN_ERRORS_SHOWN} more (msitools query --db CATALOG --errors "
                     "lists them all; --format json here too)")
    return "\n".join(lines)


QUERY_RENDERERS: dict[str, Callable[[Any], str]] = {"text": answer_text, "csv": answer_csv}
SCAN_RENDERERS: dict[str, Callable[[Any], str]] = {"text": scan_text}
