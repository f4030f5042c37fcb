"""Renderers: one module per report, each declaring its formats in a ``RENDERERS`` registry.

A renderer takes the report object a job returns and gives back a string; it
never prints.  JSON is not in the registries: every report's JSON is its
``to_dict()`` (or the dict the job returns), serialised by :func:`json_text`,
the one JSON emitter.  The command line derives each command's ``--format``
choices from its registry plus ``json``.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

Renderer = Callable[[Any], str]
Registry = Mapping[str, Renderer]


def _json_default(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray)):
        return value.hex()
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def json_text(data: Any) -> str:
    """The JSON text of a report (indented, UTF-8 kept, bytes as hex, times in ISO 8601), newline-terminated."""
    if hasattr(data, "to_dict"):
        data = data.to_dict()
    return json.dumps(data, indent=2, ensure_ascii=False, default=_json_default) + "\n"


def formats(registry: Registry) -> list[str]:
    """The ``--format`` choices a registry offers: its own formats, then ``json``."""
    return [*registry, "json"]


def render(registry: Registry, fmt: str, report: Any) -> str:
    """*report* in format *fmt* (``json`` or a format of *registry*), newline-terminated."""
    if fmt == "json":
        return json_text(report)
    text = registry[fmt](report)
    return text if text.endswith("\n") else text + "\n"
