"""JSON text indented by two spaces, byte for byte what ``json.dumps(data, indent=2, ensure_ascii=False)``
writes, made faster and smaller.

With ``indent``, CPython's ``json`` drops its C encoder for a Python generator that yields every
bracket, key and separator as its own string and joins them at the end: for a 20,000-row
``verify`` report (32 MB of JSON), millions of small strings alive at once (~120 MB) and over a
second.  Here each container is joined as soon as its items are, strings are escaped by the C
``encode_basestring``, and numbers by ``int.__repr__`` / ``float.__repr__``, as ``json`` does.
Values ``json`` cannot encode go through *default*, as with ``json.dumps(default=...)``.
"""
from __future__ import annotations

from collections.abc import Callable
from json.encoder import encode_basestring as _string  # the C implementation when available
from typing import Any

_INFINITY = float("inf")
STEP = "  "


def _number(value: float) -> str:
    if value != value:
        return "NaN"
    if value == _INFINITY:
        return "Infinity"
    if value == -_INFINITY:
        return "-Infinity"
    return float.__repr__(value)


def _scalar(value: Any) -> str | None:
    """The JSON of a string, number, boolean or null (subclasses taken as json takes them); else None."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, float):
        return _number(value)
    return None


def _key(key: Any) -> str:
    """A dictionary key as JSON writes it: a string, or a number, boolean or null in quotes."""
    if isinstance(key, str):
        return _string(key)
    if key is None or isinstance(key, (int, float)):
        return '"' + str(_scalar(key)) + '"'
    raise TypeError(f"keys must be str, int, float, bool or None, not {key.__class__.__name__}")


def indented_json(data: Any, default: Callable[[Any], Any]) -> str:
    """*data* as ``json.dumps(data, indent=2, ensure_ascii=False, default=default)`` writes it."""
    pads = ["\n"]
    active: set[int] = set()  # containers being written: a cycle is an error, as in json

    def pad(level: int) -> str:
        while len(pads) <= level:
            pads.append("\n" + STEP * len(pads))
        return pads[level]

    def container(value: Any, level: int, items: Callable[[], list[str]], brackets: str) -> str:
        if id(value) in active:
            raise ValueError("Circular reference detected")
        active.add(id(value))
        inner = pad(level + 1)
        text = brackets[0] + inner + ("," + inner).join(items()) + pad(level) + brackets[1]
        active.discard(id(value))
        return text

    def encode(value: Any, level: int) -> str:
        kind = type(value)
        if kind is str:
            return _string(value)
        if kind is dict:
            if not value:
                return "{}"
            return container(value, level, lambda: [_key(k) + ": " + encode(v, level + 1) for k, v in value.items()],
                             "{}")
        if kind is list or kind is tuple:
            if not value:
                return "[]"
            return container(value, level, lambda: [encode(v, level + 1) for v in value], "[]")
        scalar = _scalar(value)
        if scalar is not None:
            return scalar
        if isinstance(value, (list, tuple)):
            return encode(list(value), level) if value else "[]"
        if isinstance(value, dict):
            return encode(dict(value), level) if value else "{}"
        if id(value) in active:
            raise ValueError("Circular reference detected")
        active.add(id(value))
        text = encode(default(value), level)
        active.discard(id(value))
        return text

    return encode(data, 0)
