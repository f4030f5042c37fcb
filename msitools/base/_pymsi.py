"""The single boundary between msitools and the pymsi package.

pymsi serves three purposes, all imported lazily (importing pymsi costs ~40 ms):

* its codepage-number -> Python codec table (:func:`codec_for_codepage`);
* its custom-action type catalogue, used by the security review;
* an independent reference in tests and benchmarks (its stream-name codec and
  its table reader).

Table, string-pool, summary and transform decoding are our own (see the
design notes in the README).
"""
from __future__ import annotations

from functools import cache


@cache
def _pages() -> dict:
    from pymsi.codepage import PAGES

    return PAGES


def codec_for_codepage(codepage: int) -> str | None:
    """Python codec name for a Windows codepage number, or None if unknown/neutral."""
    return _pages().get(codepage)


def custom_action_module():
    """pymsi's custom action decoder module (``pymsi.msi.custom_action``)."""
    from pymsi.msi import custom_action

    return custom_action


def reference_stream_name_codec():
    """pymsi's own stream-name codec, used by tests as an independent reference."""
    from pymsi import streamname

    return streamname.encode_unicode, streamname.decode_unicode


__all__ = [
    "codec_for_codepage",
    "custom_action_module",
    "reference_stream_name_codec",
]
