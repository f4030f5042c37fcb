"""Renderers of a parsed published table (``kb parse``)."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from msitools.kb import FIELDS, PublishedTable
from msitools.render.text import render_csv, render_table

HEADERS = [*FIELDS, "section", "ambiguous"]


def _rows(table: PublishedTable) -> list[list[Any]]:
    rows = table.to_dict()["rows"]
    return [[r.get(k) for k in FIELDS] + [r.get("section"), "yes" if r.get("ambiguous") else ""] for r in rows]


def kb_text(table: PublishedTable) -> str:
    return render_table(HEADERS, _rows(table))


def kb_csv(table: PublishedTable) -> str:
    return render_csv(HEADERS, _rows(table))


RENDERERS: dict[str, Callable[[Any], str]] = {"text": kb_text, "csv": kb_csv}
