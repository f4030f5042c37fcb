"""Renderers of file listings (``files``): a package's files, a cabinet's or a patch's members."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from msitools.render.text import render_csv, render_table


@dataclass
class FileList:
    """Rows of a listing and the columns text and CSV show (JSON: ``{"files": rows}``)."""

    rows: list[dict[str, Any]]
    columns: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {"files": self.rows}


def files_text(listing: FileList) -> str:
    return render_table(listing.columns, [[r.get(c) for c in listing.columns] for r in listing.rows])


def files_csv(listing: FileList) -> str:
    return render_csv(listing.columns, [[r.get(c) for c in listing.columns] for r in listing.rows])


RENDERERS: dict[str, Callable[[Any], str]] = {"text": files_text, "csv": files_csv}
