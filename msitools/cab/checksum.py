"""The CFDATA checksum (libmspack ``cabd_checksum``; FORMATS.md §6.2).

The data bytes are XORed together as consecutive little-endian u32 words; a
1-3 byte tail is folded in as one integer whose *first* byte is the most
significant (3 bytes: b0<<16 | b1<<8 | b2).  The result seeds the same fold
over the four bytes ``cbData || cbUncomp`` of the CFDATA header.  The data
reserve area is not included (libmspack; what matches real files).  A stored
checksum of 0 means "no checksum".
"""
from __future__ import annotations

import struct

_SIZES = struct.Struct("<HH")


def _xor_words(data: bytes) -> int:
    """XOR of *data* (length a multiple of 4) taken as little-endian u32 words."""
    words = len(data) >> 2
    if not words:
        return 0
    value = int.from_bytes(data, "little")
    # Fold the upper half of the words onto the lower half until one word is
    # left: every fold keeps the XOR of all words, and each runs in C.
    while words > 1:
        low = (words + 1) >> 1
        shift = low << 5
        value = (value >> shift) ^ (value & ((1 << shift) - 1))
        words = low
    return value


def fold(data: bytes, seed: int = 0) -> int:
    """libmspack's checksum fold of *data*, starting from *seed*."""
    whole = len(data) & ~3
    value = seed ^ _xor_words(bytes(data[:whole]))
    tail = 0
    for byte in data[whole:]:
        tail = (tail << 8) | byte
    return value ^ tail


def block_checksum(cb_data: int, cb_uncomp: int, data: bytes) -> int:
    """The checksum a CFDATA block with these header fields and data bytes must carry."""
    return fold(_SIZES.pack(cb_data, cb_uncomp), fold(data))
