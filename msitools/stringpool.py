"""The MSI string pool: ``_StringPool`` (lengths, refcounts, codepage) + ``_StringData``.

Layout (FORMATS.md §1.2): u32 header = codepage | 0x80000000 when string
references are 3 bytes wide; then one (u16 length, u16 refcount) slot per id
starting at id 1.  A slot (0, 0) is an unused id; a slot (0, n>0) means a long
string whose u32 byte length is in the next slot.  ``_StringData`` holds the
bytes of all strings in id order.
"""
from __future__ import annotations

import struct
from array import array

from . import codepage as cp
from .errors import StringPoolError
from .limits import DEFAULT_LIMITS, Limits

LONG_REFS_BIT = 0x80000000

_SINGLE_BYTE = {"cp1250", "cp1251", "cp1252", "cp1253", "cp1254", "cp1255", "cp1256", "cp1257",
                "cp1258", "latin_1", "iso8859_2", "iso8859_3", "iso8859_4", "iso8859_5", "iso8859_6",
                "iso8859_7", "iso8859_8", "ascii", "mac_roman", "mac_cyrillic", "cp437", "cp850",
                "cp852", "cp866", "cp874"}


class StringPool:
    """Decoded string pool.  ``pool[id]`` is the string (id 0 is None)."""

    def __init__(self, strings: "list[str | None]", refcounts: "list[int]", codepage: int,
                 long_refs: bool, issues: "list[str] | None" = None):
        self.strings = strings
        self.refcounts = refcounts
        self.codepage = codepage
        self.long_refs = long_refs
        self.issues = issues or []

    @property
    def ref_size(self) -> int:
        """Bytes per string reference in table streams of this storage."""
        return 3 if self.long_refs else 2

    def __len__(self) -> int:
        return len(self.strings)

    def __getitem__(self, string_id: int) -> "str | None":
        return self.strings[string_id]

    def lookup(self, string_id: int) -> "str | None":
        if 0 <= string_id < len(self.strings):
            return self.strings[string_id]
        raise IndexError(string_id)

    def find(self, text: str) -> int:
        """Id of *text* in the pool, or 0 if absent (used to look up table names)."""
        try:
            return self.strings.index(text, 1)
        except ValueError:
            return 0

    @classmethod
    def empty(cls, codepage: int = 0) -> "StringPool":
        return cls([None], [0], codepage, False)

    @classmethod
    def parse(cls, pool: bytes, data: bytes, path=None, limits: Limits = DEFAULT_LIMITS,
              where: str = "") -> "StringPool":
        """Decode the two streams.  *where* names the storage for messages (e.g. a transform)."""
        prefix = f"{where}: " if where else ""
        if len(pool) < 4:
            # Wine: an empty pool header means the default codepage, short refs
            if data:
                raise StringPoolError(f"{prefix}_StringPool is empty but _StringData holds {len(data)} bytes", path)
            return cls.empty()
        if len(pool) % 4:
            raise StringPoolError(f"{prefix}_StringPool length {len(pool)} is not a multiple of 4", path)
        header = struct.unpack_from("<I", pool, 0)[0]
        long_refs = bool(header & LONG_REFS_BIT)
        codepage = header & ~LONG_REFS_BIT
        slots = array("H")
        slots.frombytes(pool[4:])
        if slots.itemsize != 2:  # pragma: no cover - every CPython has 2-byte 'H'
            raise StringPoolError("platform array('H') is not 16-bit")
        import sys

        if sys.byteorder == "big":  # pragma: no cover
            slots.byteswap()
        nslots = len(slots) // 2
        limits.check("pool_strings", nslots, f"{prefix}string pool", path)
        codec = cp.codec_name(codepage)
        if not cp.is_known(codepage):
            issues = [f"{prefix}unknown codepage {codepage}, strings read as {codec}"]
        else:
            issues = []
        max_len = limits.string_length
        lengths: list[int] = []
        refcounts: list[int] = [0]
        i = 0
        lengths_append = lengths.append
        ref_append = refcounts.append
        while i < nslots:
            length = slots[2 * i]
            refs = slots[2 * i + 1]
            i += 1
            if length == 0 and refs != 0:
                if i >= nslots:
                    raise StringPoolError(f"{prefix}_StringPool ends inside a long-string entry", path)
                length = slots[2 * i] | (slots[2 * i + 1] << 16)
                i += 1
                if length > max_len:
                    limits.check("string_length", length, f"{prefix}string {len(lengths) + 1}", path)
            lengths_append(length)
            ref_append(refs)
        total = sum(lengths)
        if total > len(data):
            raise StringPoolError(
                f"{prefix}_StringData is too short: the pool needs {total} bytes, the stream holds {len(data)}",
                path)
        if total < len(data):
            issues.append(f"{prefix}_StringData has {len(data) - total} bytes more than the pool uses")
        strings: list[str | None] = [None]
        append = strings.append
        if codec in _SINGLE_BYTE:
            # one decode for everything; byte offsets equal character offsets
            text = cp.decode(bytes(data[:total]), codepage)
            pos = 0
            for length in lengths:
                append(text[pos:pos + length])
                pos += length
        else:
            mv = memoryview(data)
            pos = 0
            decode = cp.decode
            for length in lengths:
                append(decode(bytes(mv[pos:pos + length]), codepage) if length else "")
                pos += length
        # (0, 0) slots are unused ids: keep them as None so they read as NULL
        for index, (length, refs) in enumerate(zip(lengths, refcounts[1:]), start=1):
            if length == 0 and refs == 0:
                strings[index] = None
        return cls(strings, refcounts, codepage, long_refs, issues)
