"""Renderer of an extraction report (``extract``): the summary line (notes go to standard error)."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from msitools.extract import ExtractReport


def extract_text(report: ExtractReport) -> str:
    count = len(report.written) + sum(len(n.written) for n in report.nested)
    return f"extracted {count} files to {report.output}"


RENDERERS: dict[str, Callable[[Any], str]] = {"text": extract_text}
