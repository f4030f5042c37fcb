"""MSI stream-name compression (FORMATS §1.1).

Characters of the 64-symbol alphabet ``0-9 A-Z a-z . _`` are packed two per
UTF-16 unit (0x3800 + v1 + 64*v2) or one per unit (0x4800 + v); other
characters stay literal; table streams get a leading U+4840.  This is our own
implementation because every package open needs it and importing pymsi costs
~40 ms; ``tests/test_streamname.py`` checks it against pymsi's codec.
"""
from __future__ import annotations

from functools import lru_cache

TABLE_PREFIX = "\u4840"
ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz._"
_VALUE = {ch: i for i, ch in enumerate(ALPHABET)}
MAX_ENCODED_LENGTH = 31  # CFB directory names hold 31 UTF-16 units


@lru_cache(maxsize=8192)
def encode_stream_name(name: str, is_table: bool = False) -> str:
    out = [TABLE_PREFIX] if is_table else []
    i, n = 0, len(name)
    value = _VALUE.get
    while i < n:
        v1 = value(name[i])
        if v1 is None:
            out.append(name[i])
            i += 1
            continue
        v2 = value(name[i + 1]) if i + 1 < n else None
        if v2 is not None:
            out.append(chr(0x3800 + v1 + (v2 << 6)))
            i += 2
        else:
            out.append(chr(0x4800 + v1))
            i += 1
    return "".join(out)


@lru_cache(maxsize=8192)
def decode_stream_name(raw: str) -> tuple[str, bool]:
    """Decode a directory-entry name into (logical name, is_table)."""
    is_table = raw.startswith(TABLE_PREFIX)
    if is_table:
        raw = raw[1:]
    out = []
    for ch in raw:
        u = ord(ch)
        if 0x3800 <= u < 0x4800:
            u -= 0x3800
            out.append(ALPHABET[u & 0x3F])
            out.append(ALPHABET[(u >> 6) & 0x3F])
        elif 0x4800 <= u < 0x4840:
            out.append(ALPHABET[u - 0x4800])
        else:
            out.append(ch)
    return "".join(out), is_table


def fits(name: str, is_table: bool = False) -> bool:
    """Whether *name* fits the 31-unit CFB name limit once encoded."""
    return len(encode_stream_name(name, is_table)) <= MAX_ENCODED_LENGTH
