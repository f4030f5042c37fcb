"""The MSI string pool: ``_StringPool`` (lengths, refcounts, codepage) + ``_StringData``.

Layout (FORMATS.md §1.2): u32 header = codepage | 0x80000000 when string
references are 3 bytes wide; then one (u16 length, u16 refcount) slot per id
starting at id 1.  A slot (0, 0) is an unused id; a slot (0, n>0) means a long
string whose u32 byte length is in the next slot.  ``_StringData`` holds the
bytes of all strings in id order.
"""
from __future__ import annotations

import struct
import sys
from array import array

from msitools.base import codepage as cp
from msitools.errors import StringPoolError
from msitools.limits import DEFAULT_LIMITS, Limits

LONG_REFS_BIT = 0x80000000

_SINGLE_BYTE = {"cp1250", "cp1251", "cp1252", "cp1253", "cp1254", "cp1255", "cp1256", "cp1257",
                "cp1258", "latin_1", "iso8859_2", "iso8859_3", "iso8859_4", "iso8859_5", "iso8859_6",
                "iso8859_7", "iso8859_8", "ascii", "mac_roman", "mac_cyrillic", "cp437", "cp850",
                "cp852", "cp866", "cp874"}


class StringPool:
    """A string pool.  ``pool[id]`` is the string (id 0 and unused ids are None).

    Strings are decoded on demand from the pool's bytes (for single-byte
    codepages, from one decoded text), so a pool of 100,000 strings costs
    about its own size in memory, not a Python object per string.
    """

    def __init__(self, data: bytes | str, offsets: array, lengths: array, refcounts: list[int],
                 codepage: int, long_refs: bool, unused: set[int] | None = None,
                 issues: list[str] | None = None):
        # offsets/lengths are indexed by id (index 0 unused); data is bytes, or str for single-byte codecs
        self._data = data
        self._offsets = offsets
        self._lengths = lengths
        self._unused = unused or set()
        self.refcounts = refcounts
        self.codepage = codepage
        self.long_refs = long_refs
        self.issues = issues or []
        self._materialized: list[str | None] | None = None

    @property
    def ref_size(self) -> int:
        """Bytes per string reference in table streams of this storage."""
        return 3 if self.long_refs else 2

    def __len__(self) -> int:
        """Number of ids, including id 0."""
        return len(self._offsets)

    def __getitem__(self, string_id: int) -> str | None:
        if string_id <= 0 or string_id in self._unused:
            if string_id < 0:
                raise IndexError(string_id)
            return None
        off = self._offsets[string_id]
        end = off + self._lengths[string_id]
        data = self._data
        if isinstance(data, str):
            return data[off:end]
        return cp.decode(data[off:end], self.codepage)

    lookup = __getitem__

    def values(self, ids, shared: bool = False) -> list[str | None]:
        """Strings for many ids at once (ids must be < len(self); checked by the caller).

        ``shared=True`` decodes the whole pool once and returns the same string
        objects every time (fast, for callers that keep rows); the default
        slices on demand (bounded memory, for streaming callers).
        """
        if shared or self._materialized is not None:
            strings = self.strings
            return [strings[i] for i in ids]
        offsets, lengths, data = self._offsets, self._lengths, self._data
        unused = self._unused
        if isinstance(data, str):
            out = [data[offsets[i]:offsets[i] + lengths[i]] if i else None for i in ids]
        else:
            codepage = self.codepage
            decode = cp.decode
            out = [decode(data[offsets[i]:offsets[i] + lengths[i]], codepage) if i else None for i in ids]
        if unused:
            out = [None if i in unused else v for i, v in zip(ids, out)]
        return out

    @property
    def strings(self) -> list[str | None]:
        """Every string, by id (decodes the whole pool once and keeps it)."""
        if self._materialized is None:
            self._materialized = self.values(range(len(self)))
        return self._materialized

    def find(self, text: str) -> int:
        """Id of *text* in the pool, or 0 if absent."""
        for i in range(1, len(self)):
            if self[i] == text:
                return i
        return 0

    @classmethod
    def empty(cls, codepage: int = 0) -> StringPool:
        return cls("", array("I", [0]), array("I", [0]), [0], codepage, False)

    @classmethod
    def parse(cls, pool: bytes, data: bytes, path=None, limits: Limits = DEFAULT_LIMITS,
              where: str = "") -> StringPool:
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
        if sys.byteorder == "big":  # pragma: no cover
            slots.byteswap()
        nslots = len(slots) // 2
        limits.check("pool_strings", nslots, f"{prefix}string pool", path)
        codec = cp.codec_name(codepage)
        if not cp.is_known(codepage):
            issues = [f"{prefix}unknown codepage {codepage}, strings read as {codec}"]
        else:
            issues = []
        lengths_arr = slots[0::2]
        refs_arr = slots[1::2]
        if 0 not in lengths_arr:
            needed = sum(lengths_arr)
            if needed > len(data):  # fail before building per-string lists
                raise StringPoolError(f"{prefix}_StringData is too short: the pool needs {needed} bytes, "
                                      f"the stream holds {len(data)}", path)
        zero = [i for i, n in enumerate(lengths_arr) if not n] if 0 in lengths_arr else []
        if not any(refs_arr[i] for i in zero):
            # fast path: no long strings (unused ids, if any, are (0, 0) slots)
            lengths = list(lengths_arr)
            refcounts = [0] + list(refs_arr)
            unused = [i + 1 for i in zero]
        else:
            lengths, refcounts, unused = cls._walk_slots(lengths_arr, refs_arr, limits, prefix, path)
        total = sum(lengths)
        if total > len(data):
            raise StringPoolError(
                f"{prefix}_StringData is too short: the pool needs {total} bytes, the stream holds {len(data)}",
                path)
        if total < len(data):
            issues.append(f"{prefix}_StringData has {len(data) - total} bytes more than the pool uses")
        offsets = array("I", [0])
        offsets_append = offsets.append
        pos = 0
        for length in lengths:
            offsets_append(pos)
            pos += length
        lengths_by_id = array("I", [0])
        lengths_by_id.extend(lengths)
        if codec in _SINGLE_BYTE:
            # one decode for everything; byte offsets equal character offsets
            store: bytes | str = cp.decode(bytes(data[:total]), codepage)
        else:
            store = bytes(data[:total])
        return cls(store, offsets, lengths_by_id, refcounts, codepage, long_refs, set(unused), issues)

    @staticmethod
    def _walk_slots(lengths_arr, refs_arr, limits: Limits, prefix: str, path):
        """Slot walk for pools with long strings (two slots, one id) or unused ids."""
        nslots = len(lengths_arr)
        lengths: list[int] = []
        refcounts: list[int] = [0]
        unused: list[int] = []
        i = 0
        while i < nslots:
            length = lengths_arr[i]
            refs = refs_arr[i]
            i += 1
            if length == 0:
                if refs == 0:
                    unused.append(len(lengths) + 1)
                else:
                    if i >= nslots:
                        raise StringPoolError(f"{prefix}_StringPool ends inside a long-string entry", path)
                    length = lengths_arr[i] | (refs_arr[i] << 16)
                    i += 1
                    limits.check("string_length", length, f"{prefix}string {len(lengths) + 1}", path)
            lengths.append(length)
            refcounts.append(refs)
        return lengths, refcounts, unused
