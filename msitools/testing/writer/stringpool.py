"""Writer for the MSI string pool: ``_StringPool`` + ``_StringData`` (FORMATS §1.2).

Ids are handed out in the order strings are first interned (id 0 is NULL and
is never stored); every :meth:`StringPoolWriter.intern` call counts one
reference, so the refcounts written are the number of cells that use each
string.  Strings of 64 KiB or more take two pool slots.  String references are
3 bytes wide when there are more than 65535 strings, or when forced.

Long-string slots: readers disagree about the two-slot layout.  Wine (and the
GNOME msitools 0.101 installed here) read ``(0, refcount), (length & 0xFFFF,
length >> 16)``; rust-msi and older libmsi read ``(0, length >> 16),
(length & 0xFFFF, refcount)``.  Both agree only when refcount == length >> 16.
The default layout ``"wine"`` writes the Wine reading with true refcounts;
``"rust-msi"`` writes the other one; ``"compatible"`` writes the Wine layout
with the refcount of a long string set to ``length >> 16`` so both readings
give the same length (the refcount is informational only).
"""
from __future__ import annotations

import struct
import sys
from array import array

from msitools.base import codepage as _codepage
from msitools.errors import StringPoolError

LONG_REFS_BIT = 0x80000000
MAX_SHORT_ID = 0xFFFF
MAX_ID = 0xFFFFFF
LONG_STRING_BYTES = 0x10000
LONG_STRING_LAYOUTS = ("compatible", "wine", "rust-msi")


class StringPoolWriter:
    """Collects strings for one storage (a database or a transform)."""

    def __init__(self, codepage: int = 1252, *, force_long_refs: bool = False,
                 long_string_layout: str = "wine"):
        if long_string_layout not in LONG_STRING_LAYOUTS:
            raise StringPoolError(f"unknown long-string layout {long_string_layout!r}")
        if not 0 <= codepage <= 0x7FFFFFFF:
            raise StringPoolError(f"codepage {codepage} does not fit the _StringPool header")
        self.codepage = codepage
        self.force_long_refs = force_long_refs
        self.long_string_layout = long_string_layout
        self._ids: dict[str, int] = {}
        self._encoded: list[bytes] = [b""]   # index = id; slot 0 unused
        self._refcounts: list[int] = [0]

    # building ---------------------------------------------------------------------------------
    def intern(self, text: str | None, references: int = 1) -> int:
        """Id of *text* (0 for None or ""), adding *references* to its refcount."""
        if text is None or text == "":
            return 0
        if not isinstance(text, str):
            raise StringPoolError(f"string pool entries are str, got {type(text).__name__}")
        string_id = self._ids.get(text)
        if string_id is None:
            try:
                raw = _codepage.encode(text, self.codepage)
            except UnicodeEncodeError as exc:
                raise StringPoolError(
                    f"string {text[:40]!r} cannot be written in codepage {self.codepage}") from exc
            string_id = len(self._encoded)
            if string_id > MAX_ID:
                raise StringPoolError(f"more than {MAX_ID} strings in one string pool")
            self._ids[text] = string_id
            self._encoded.append(raw)
            self._refcounts.append(0)
        self._refcounts[string_id] += references
        return string_id

    def add_unused_slot(self) -> int:
        """Consume an id with an empty ``(0, 0)`` slot (as left by deleted strings)."""
        self._encoded.append(b"")
        self._refcounts.append(0)
        return len(self._encoded) - 1

    # queries ----------------------------------------------------------------------------------
    def __len__(self) -> int:
        """Number of ids in use (the highest id)."""
        return len(self._encoded) - 1

    def id_of(self, text: str) -> int:
        return self._ids[text]

    def refcount(self, string_id: int) -> int:
        return self._refcounts[string_id]

    @property
    def long_refs(self) -> bool:
        return self.force_long_refs or len(self) > MAX_SHORT_ID

    @property
    def ref_size(self) -> int:
        """Bytes per string cell in every table stream of this storage."""
        return 3 if self.long_refs else 2

    def pack_refs(self, ids: list[int]) -> bytes:
        """String cells for *ids*, each :attr:`ref_size` bytes.

        A 3-byte cell keeps its bytes together (low, middle, high), one cell after
        the other within the column block, as Wine's save_table/read_table_from_storage
        lay them out (``rawdata[col_offset * rows + row * 3 + k]``) and libmsi reads them.
        """
        if self.long_refs:
            out = bytearray(3 * len(ids))
            for i, v in enumerate(ids):
                out[3 * i] = v & 0xFF
                out[3 * i + 1] = (v >> 8) & 0xFF
                out[3 * i + 2] = (v >> 16) & 0xFF
            return bytes(out)
        arr = array("H", ids)
        if sys.byteorder == "big":
            arr.byteswap()
        return arr.tobytes()

    # output -----------------------------------------------------------------------------------
    def pool_bytes(self) -> bytes:
        """The ``_StringPool`` stream."""
        header = self.codepage | (LONG_REFS_BIT if self.long_refs else 0)
        slots = [struct.pack("<I", header)]
        for raw, refs in zip(self._encoded[1:], self._refcounts[1:]):
            size = len(raw)
            if size == 0:
                slots.append(b"\x00\x00\x00\x00")
                continue
            refs = min(refs, 0xFFFF)
            if size < LONG_STRING_BYTES:
                slots.append(struct.pack("<HH", size, refs))
                continue
            if size > 0xFFFFFFFF:
                raise StringPoolError("a string of 4 GiB or more cannot be stored")
            low, high = size & 0xFFFF, size >> 16
            if self.long_string_layout == "wine":
                slots.append(struct.pack("<HHHH", 0, refs, low, high))
            elif self.long_string_layout == "rust-msi":
                slots.append(struct.pack("<HHHH", 0, high, low, refs))
            else:
                slots.append(struct.pack("<HHHH", 0, high, low, high))
        return b"".join(slots)

    def data_bytes(self) -> bytes:
        """The ``_StringData`` stream."""
        return b"".join(self._encoded)
