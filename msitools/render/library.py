"""Renderers of ``scan`` summaries and ``query`` answers: text and CSV (JSON is the report itself)."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from msitools.render.text import render_csv, render_table


def answer_text(report: dict[str, Any]) -> str:
    if not report["rows"]:
        return f"{report['question']}: no rows"
    return render_table(report["columns"], report["rows"]) + f"\n({len(report['rows'])} rows)"


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
