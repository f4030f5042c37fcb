"""The single boundary between msitools and the pymsi package.

pymsi is used for what it does well and nowhere else:

* the MSI stream-name codec (``encode_unicode``/``decode_unicode``),
* the codepage-number -> Python codec table,
* the custom-action type catalogue (used by the security review).

Table, string-pool, summary and transform decoding are our own (see the design
notes in the README): pymsi prints warnings to stdout, decodes cell by cell,
and has no transform or patch support.
"""
from __future__ import annotations

from functools import lru_cache

from pymsi import streamname as _streamname
from pymsi.codepage import PAGES as _PAGES

TABLE_PREFIX = "\u4840"


@lru_cache(maxsize=4096)
def encode_stream_name(name: str, is_table: bool) -> str:
    """Encode a logical MSI stream name (tables get the U+4840 prefix)."""
    return _streamname.encode_unicode(name, is_table)


def decode_stream_name(raw: str) -> "tuple[str, bool]":
    """Decode a CFB directory-entry name into (logical name, is_table)."""
    return _streamname.decode_unicode(raw)


def codec_for_codepage(codepage: int) -> "str | None":
    """Python codec name for a Windows codepage number, or None if unknown/neutral."""
    return _PAGES.get(codepage)


def custom_action_catalogue():
    """pymsi's table of custom action base types (Type & 0x3F -> spec)."""
    from pymsi.msi import custom_action

    return custom_action
