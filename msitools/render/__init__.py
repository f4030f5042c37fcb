"""Renderers: one module per report, each declaring its formats in a ``RENDERERS`` registry.

A renderer takes the report object a job returns and gives back a string; it
never prints.  JSON is not in the registries: every report's JSON is its
``to_dict()`` (or the dict the job returns), serialised by :func:`json_text`,
the one JSON emitter.  The command line derives each command's ``--format``
choices from its registry plus ``json``.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from msitools.render.jsontext import indented_json

Renderer = Callable[..., str]  # (report) or, when marked takes_options, (report, options)
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
    return indented_json(data, _json_default) + "\n"  # json.dumps(indent=2, ensure_ascii=False), faster


def formats(registry: Registry) -> list[str]:
    """The ``--format`` choices a registry offers: its own formats, then ``json``."""
    return [*registry, "json"]


def render(registry: Registry, fmt: str, report: Any, options: Any = None) -> str:
    """*report* in format *fmt* (``json`` or a format of *registry*), newline-terminated.

    *options* (:class:`~msitools.render.options.RenderOptions`) reaches the renderers
    that take it (colour, width, details); the others do not need it.
    """
    if fmt == "json":
        return json_text(report)
    renderer = registry[fmt]
    text = renderer(report, options) if options is not None and getattr(renderer, "takes_options", False) \
        else renderer(report)
    return text if text.endswith("\n") else text + "\n"
