"""Compound File (MS-CFB version 3, 512-byte sectors) writer for test fixtures.

Builds a whole file in memory from a tree of :class:`Storage` and
:class:`Stream` objects:

* streams shorter than 4096 bytes live in the mini stream (64-byte mini
  sectors, chained by the mini FAT); longer ones get regular sectors;
* the FAT is extended by DIFAT sectors when it needs more than the 109
  sectors the header can list (files over about 7 MB);
* every storage's children form a red-black tree ordered the CFB way
  (shorter UTF-16 name first, then code-unit comparison of the upper-cased
  names); the tree is balanced and coloured so that every path has the same
  number of black nodes;
* CLSIDs, state bits and FILETIMEs are taken from the objects (default zero);
* the output depends only on the tree: no clock, no randomness.

Sector layout: header, FAT, DIFAT, directory, mini FAT, mini-stream container,
then the regular streams in directory order, then (for :meth:`pad_to`) the
filler stream.  :meth:`CompoundFileWriter.pad_to` may add a spare FAT sector or
a few FREESECT sectors to hit an exact size.
"""
from __future__ import annotations

import struct
import sys
import uuid
from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Union

from msitools.errors import CompoundFileError

SECTOR_SIZE = 512
MINI_SECTOR_SIZE = 64
MINI_STREAM_CUTOFF = 4096
HEADER_DIFAT_ENTRIES = 109
FAT_ENTRIES_PER_SECTOR = SECTOR_SIZE // 4  # 128
DIFAT_ENTRIES_PER_SECTOR = FAT_ENTRIES_PER_SECTOR - 1  # last slot chains to the next DIFAT sector
DIR_ENTRY_SIZE = 128
DIR_ENTRIES_PER_SECTOR = SECTOR_SIZE // DIR_ENTRY_SIZE

MAXREGSECT = 0xFFFFFFFA
DIFSECT = 0xFFFFFFFC
FATSECT = 0xFFFFFFFD
ENDOFCHAIN = 0xFFFFFFFE
FREESECT = 0xFFFFFFFF
NOSTREAM = 0xFFFFFFFF

TYPE_EMPTY = 0
TYPE_STORAGE = 1
TYPE_STREAM = 2
TYPE_ROOT = 5

RED = 0
BLACK = 1

MAGIC = b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1"
MAX_NAME_UNITS = 31
_ILLEGAL_NAME_CHARS = "/\\:!"

ClsidLike = Union[bytes, str, uuid.UUID, None]  # noqa: UP007 (a runtime alias: "|" needs Python 3.10 classes on both sides)


def clsid_bytes(value: ClsidLike) -> bytes:
    """16 on-disk CLSID bytes from bytes, a ``{...}`` string, a UUID or None (zeros)."""
    if value is None:
        return bytes(16)
    if isinstance(value, uuid.UUID):
        return value.bytes_le
    if isinstance(value, (bytes, bytearray)):
        if len(value) != 16:
            raise CompoundFileError(f"a CLSID is 16 bytes, got {len(value)}")
        return bytes(value)
    try:
        return uuid.UUID(value.strip("{}")).bytes_le
    except (ValueError, AttributeError) as exc:
        raise CompoundFileError(f"not a CLSID: {value!r}") from exc


def name_units(name: str) -> int:
    """Length of *name* in UTF-16 code units."""
    return len(name.encode("utf-16-le")) // 2


def _upper_unit(unit: int) -> int:
    if 0xD800 <= unit <= 0xDFFF:
        return unit
    upper = chr(unit).upper()
    return ord(upper) if len(upper) == 1 and ord(upper) <= 0xFFFF else unit


def sort_key(name: str) -> tuple:
    """The CFB sibling order: UTF-16 length first, then upper-cased code units."""
    raw = name.encode("utf-16-le")
    units = struct.unpack(f"<{len(raw) // 2}H", raw)
    return (len(units), tuple(_upper_unit(u) for u in units))


def validate_name(name: str) -> None:
    if not isinstance(name, str) or not name:
        raise CompoundFileError(f"a directory entry needs a non-empty name, got {name!r}")
    if name_units(name) > MAX_NAME_UNITS:
        raise CompoundFileError(f"directory entry name {name!r} is longer than {MAX_NAME_UNITS} UTF-16 units")
    bad = [c for c in name if c in _ILLEGAL_NAME_CHARS or c == "\x00"]
    if bad:
        raise CompoundFileError(f"directory entry name {name!r} contains an illegal character {bad[0]!r}")


def _check_meta(name: str, state_bits: int, created: int, modified: int) -> None:
    if not (isinstance(state_bits, int) and 0 <= state_bits <= 0xFFFFFFFF):
        raise CompoundFileError(f"{name!r}: state bits {state_bits!r} are not a 32-bit value")
    for label, value in (("creation", created), ("modification", modified)):
        if not (isinstance(value, int) and 0 <= value < 1 << 64):
            raise CompoundFileError(f"{name!r}: {label} time {value!r} is not a 64-bit FILETIME")


@dataclass
class Stream:
    """A stream: a name and its bytes, plus directory-entry metadata."""

    name: str
    data: bytes = b""
    state_bits: int = 0
    created: int = 0   # FILETIME ticks
    modified: int = 0

    def __post_init__(self) -> None:
        validate_name(self.name)
        if not isinstance(self.data, (bytes, bytearray, memoryview)):
            raise CompoundFileError(f"stream {self.name!r}: data must be bytes, got {type(self.data).__name__}")
        self.data = bytes(self.data)
        _check_meta(self.name, self.state_bits, self.created, self.modified)


@dataclass
class Storage:
    """A storage (directory) holding streams and further storages."""

    name: str
    clsid: bytes = field(default_factory=lambda: bytes(16))
    state_bits: int = 0
    created: int = 0
    modified: int = 0
    children: dict[str, Stream | Storage] = field(default_factory=dict)
    _keys: dict[tuple, str] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        validate_name(self.name)
        self.clsid = clsid_bytes(self.clsid)
        _check_meta(self.name, self.state_bits, self.created, self.modified)

    def _check_free(self, name: str) -> tuple:
        if len(self._keys) != len(self.children):  # children was edited directly
            self._keys = {sort_key(existing): existing for existing in self.children}
        key = sort_key(name)
        existing = self._keys.get(key)
        if existing is not None and existing in self.children:
            raise CompoundFileError(
                f"storage {self.name!r} already has an entry named {existing!r} "
                f"(CFB names compare case-insensitively)")
        return key

    def add(self, entry: Stream | Storage) -> Stream | Storage:
        """Attach an existing stream or storage object."""
        if not isinstance(entry, (Stream, Storage)):
            raise CompoundFileError(f"cannot add a {type(entry).__name__} to storage {self.name!r}")
        key = self._check_free(entry.name)
        self.children[entry.name] = entry
        self._keys[key] = entry.name
        return entry

    def add_stream(self, name: str, data: bytes = b"", *, state_bits: int = 0,
                   created: int = 0, modified: int = 0) -> Stream:
        return self.add(Stream(name, data, state_bits, created, modified))  # type: ignore[return-value]

    def add_storage(self, name: str, clsid: ClsidLike = None, *, state_bits: int = 0,
                    created: int = 0, modified: int = 0) -> Storage:
        return self.add(Storage(name, clsid_bytes(clsid), state_bits, created, modified))  # type: ignore[return-value]

    def walk(self, prefix: str = "") -> Iterator[tuple[str, Stream | Storage]]:
        """Every descendant as ('a/b/c', entry), children in CFB order."""
        for name in sorted(self.children, key=sort_key):
            entry = self.children[name]
            path = f"{prefix}{name}"
            yield path, entry
            if isinstance(entry, Storage):
                yield from entry.walk(path + "/")


# ----------------------------------------------------------------------------------------------
# red-black sibling trees


def _balanced_tree(count: int) -> tuple[int, list[int], list[int], list[int]]:
    """Root index, left, right and depth arrays of a middle-split tree over 0..count-1."""
    left = [-1] * count
    right = [-1] * count
    depth = [0] * count

    def build(lo: int, hi: int, level: int) -> int:
        if lo > hi:
            return -1
        mid = (lo + hi + 1) // 2
        depth[mid] = level
        left[mid] = build(lo, mid - 1, level + 1)
        right[mid] = build(mid + 1, hi, level + 1)
        return mid

    root = build(0, count - 1, 0)
    return root, left, right, depth


def _colours(count: int, depth: list[int]) -> list[int]:
    """Black everywhere except an incomplete last level, which is red.

    In a middle-split tree every null link sits at depth floor(log2(n+1)) or one
    deeper, so colouring the nodes of the deepest (incomplete) level red gives every
    root-to-leaf path the same number of black nodes.
    """
    full_levels = (count + 1).bit_length() - 1  # floor(log2(n+1))
    perfect = (1 << full_levels) - 1 == count
    return [RED if (not perfect and d == full_levels) else BLACK for d in depth]


# ----------------------------------------------------------------------------------------------
# layout


@dataclass
class _DirEntry:
    name: str
    type: int
    clsid: bytes = bytes(16)
    state_bits: int = 0
    created: int = 0
    modified: int = 0
    left: int = NOSTREAM
    right: int = NOSTREAM
    child: int = NOSTREAM
    colour: int = BLACK
    start: int = ENDOFCHAIN
    size: int = 0
    data: bytes = b""
    source: object = None


def _pack_dir_entry(e: _DirEntry) -> bytes:
    raw_name = (e.name + "\x00").encode("utf-16-le") if e.type != TYPE_EMPTY else b""
    if e.type == TYPE_EMPTY:
        return struct.pack("<64sHBBIII16sIQQIQ", b"", 0, 0, 0, NOSTREAM, NOSTREAM, NOSTREAM,
                           bytes(16), 0, 0, 0, 0, 0)
    return struct.pack("<64sHBBIII16sIQQIQ", raw_name, len(raw_name), e.type, e.colour,
                       e.left, e.right, e.child, e.clsid, e.state_bits & 0xFFFFFFFF,
                       e.created, e.modified, e.start, e.size)


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def _fat_geometry(other_sectors: int, spare_fat: int = 0) -> tuple[int, int]:
    """(FAT sectors, DIFAT sectors) when *other_sectors* sectors hold everything else.

    *spare_fat* asks for that many FAT sectors beyond the minimum (their entries are
    FREESECT); :meth:`CompoundFileWriter.pad_to` uses one when growing the FAT would
    otherwise skip the requested size.
    """
    fat = difat = 0
    while True:
        total = other_sectors + fat + difat
        need_fat = _ceil_div(total, FAT_ENTRIES_PER_SECTOR)
        need_difat = _ceil_div(max(0, need_fat - HEADER_DIFAT_ENTRIES), DIFAT_ENTRIES_PER_SECTOR)
        if need_fat == fat and need_difat == difat:
            break
        fat, difat = max(fat, need_fat), max(difat, need_difat)
    if spare_fat:
        # Extra FAT sectors add 128 entries each, always enough to cover themselves.
        fat += spare_fat
        difat = _ceil_div(max(0, fat - HEADER_DIFAT_ENTRIES), DIFAT_ENTRIES_PER_SECTOR)
    return fat, difat


class CompoundFileWriter:
    """Build a compound file: fill :attr:`root`, then call :meth:`to_bytes`."""

    def __init__(self, root_clsid: ClsidLike = None, *, root_state_bits: int = 0,
                 root_created: int = 0, root_modified: int = 0):
        self.root = Storage("Root Entry", clsid_bytes(root_clsid), root_state_bits,
                            root_created, root_modified)
        self._pad_size: int | None = None
        self._pad_name = "Padding"

    # convenience pass-throughs -----------------------------------------------------------
    def add_stream(self, name: str, data: bytes = b"", **meta) -> Stream:
        return self.root.add_stream(name, data, **meta)

    def add_storage(self, name: str, clsid: ClsidLike = None, **meta) -> Storage:
        return self.root.add_storage(name, clsid, **meta)

    def pad_to(self, size: int, filler_name: str = "Padding") -> None:
        """Make :meth:`to_bytes` return exactly *size* bytes by adding a filler stream.

        *size* must be a multiple of 512.  The filler (zero bytes, a whole number of
        sectors, stored in the root storage as *filler_name*) is as large as the target
        allows.  Where one more data sector would need a new FAT sector and overshoot,
        a spare FAT sector (all FREESECT entries) takes its place; a filler that would
        be under 4096 bytes is replaced by free sectors.  Raises
        :class:`CompoundFileError` if *size* is not a multiple of 512 or is smaller than
        the file without filler.
        """
        if size % SECTOR_SIZE:
            raise CompoundFileError(f"pad_to({size}): the size of a v3 compound file is a multiple of 512")
        validate_name(filler_name)
        self._pad_size = size
        self._pad_name = filler_name

    # building ------------------------------------------------------------------------------
    def _flatten(self) -> list[_DirEntry]:
        entries: list[_DirEntry] = []

        def visit(storage: Storage, is_root: bool) -> int:
            index = len(entries)
            entries.append(_DirEntry(storage.name, TYPE_ROOT if is_root else TYPE_STORAGE,
                                     storage.clsid, storage.state_bits, storage.created,
                                     storage.modified))
            names = sorted(storage.children, key=sort_key)
            ids: list[int] = []
            for name in names:
                child = storage.children[name]
                if isinstance(child, Storage):
                    ids.append(visit(child, False))
                else:
                    ids.append(len(entries))
                    entries.append(_DirEntry(child.name, TYPE_STREAM, bytes(16), child.state_bits,
                                             child.created, child.modified, size=len(child.data),
                                             data=child.data, source=child))
            if ids:
                root, left, right, depth = _balanced_tree(len(ids))
                colours = _colours(len(ids), depth)
                for pos, entry_id in enumerate(ids):
                    e = entries[entry_id]
                    e.left = ids[left[pos]] if left[pos] >= 0 else NOSTREAM
                    e.right = ids[right[pos]] if right[pos] >= 0 else NOSTREAM
                    e.colour = colours[pos]
                entries[index].child = ids[root]
            return index

        visit(self.root, True)
        return entries

    def to_bytes(self) -> bytes:
        """Serialise the whole compound file."""
        entries = self._flatten()
        filler: _DirEntry | None = None
        if self._pad_size is not None:
            if any(sort_key(n) == sort_key(self._pad_name) for n in self.root.children):
                raise CompoundFileError(f"pad_to: the root already has an entry named {self._pad_name!r}")
            # Add the filler as a real child so the directory tree includes it.
            saved = dict(self.root.children)
            filler_stream = Stream(self._pad_name, b"")
            self.root.children[self._pad_name] = filler_stream
            try:
                entries = self._flatten()
            finally:
                self.root.children = saved
            filler = next(e for e in entries if e.source is filler_stream)
        return self._serialise(entries, filler)

    def write(self, path) -> int:
        """Write the file to *path*; returns its size."""
        data = self.to_bytes()
        with open(path, "wb") as fh:
            fh.write(data)
        return len(data)

    def _solve_padding(self, base: int) -> tuple[int, int, int]:
        """(filler sectors, free sectors, spare FAT sectors) giving exactly the pad size.

        The file size depends only on the number of non-FAT sectors and on the FAT
        size, so when one more data sector would need a new FAT (or DIFAT) sector and
        jump past the target, a spare FAT sector fills the gap instead.
        """
        assert self._pad_size is not None  # only called when pad_to() set a size (filler exists)
        target = self._pad_size // SECTOR_SIZE - 1  # sectors after the header

        def total(extra: int, spare: int) -> int:
            fat, difat = _fat_geometry(base + extra, spare)
            return base + extra + fat + difat

        if total(0, 0) > target:
            raise CompoundFileError(
                f"pad_to({self._pad_size}): the file already needs "
                f"{(total(0, 0) + 1) * SECTOR_SIZE} bytes without filler")
        for spare in range(3):
            lo, hi = 0, target - base
            if total(0, spare) > target:
                break
            while lo < hi:  # largest number of extra sectors that still fits
                mid = (lo + hi + 1) // 2
                if total(mid, spare) <= target:
                    lo = mid
                else:
                    hi = mid - 1
            if total(lo, spare) == target:
                if lo * SECTOR_SIZE < MINI_STREAM_CUTOFF:
                    return 0, lo, spare  # too small for a regular stream: leave them free
                return lo, 0, spare
        raise CompoundFileError(f"pad_to({self._pad_size}): this size cannot be reached")

    def _serialise(self, entries: list[_DirEntry], filler: _DirEntry | None) -> bytes:
        mini = [e for e in entries if e.type == TYPE_STREAM and 0 < e.size < MINI_STREAM_CUTOFF]
        regular = [e for e in entries if e.type == TYPE_STREAM and e.size >= MINI_STREAM_CUTOFF
                   and e is not filler]
        for e in entries:
            if e.size >= 1 << 32:
                raise CompoundFileError(f"stream {e.name!r} is 4 GiB or more; a v3 file cannot hold it")

        dir_sectors = _ceil_div(len(entries), DIR_ENTRIES_PER_SECTOR)
        mini_sectors_total = sum(_ceil_div(e.size, MINI_SECTOR_SIZE) for e in mini)
        mini_stream_bytes = mini_sectors_total * MINI_SECTOR_SIZE
        mini_container_sectors = _ceil_div(mini_stream_bytes, SECTOR_SIZE)
        minifat_sectors = _ceil_div(mini_sectors_total * 4, SECTOR_SIZE)
        regular_sectors = sum(_ceil_div(e.size, SECTOR_SIZE) for e in regular)
        base = dir_sectors + minifat_sectors + mini_container_sectors + regular_sectors

        filler_sectors = 0
        free_sectors = 0
        spare_fat = 0
        if filler is not None:
            filler_sectors, free_sectors, spare_fat = self._solve_padding(base)
            filler.size = filler_sectors * SECTOR_SIZE
            filler.data = bytes(filler.size)
            if filler.size:
                regular.append(filler)

        fat_count, difat_count = _fat_geometry(base + filler_sectors + free_sectors, spare_fat)
        total_sectors = base + filler_sectors + free_sectors + fat_count + difat_count
        fat = array("I", [FREESECT]) * (fat_count * FAT_ENTRIES_PER_SECTOR)

        next_sector = 0

        def allocate(count: int, marker: int | None = None) -> int:
            nonlocal next_sector
            start = next_sector
            for i in range(count):
                s = start + i
                if marker is None:
                    fat[s] = s + 1 if i + 1 < count else ENDOFCHAIN
                else:
                    fat[s] = marker
            next_sector += count
            return start if count else ENDOFCHAIN

        fat_start = allocate(fat_count, FATSECT)
        difat_start = allocate(difat_count, DIFSECT)
        dir_start = allocate(dir_sectors)
        minifat_start = allocate(minifat_sectors)
        mini_container_start = allocate(mini_container_sectors)

        # mini stream
        minifat = array("I", [FREESECT]) * (minifat_sectors * FAT_ENTRIES_PER_SECTOR)
        mini_blob = bytearray(mini_container_sectors * SECTOR_SIZE)
        mini_next = 0
        for e in mini:
            count = _ceil_div(e.size, MINI_SECTOR_SIZE)
            e.start = mini_next
            for i in range(count):
                minifat[mini_next + i] = mini_next + i + 1 if i + 1 < count else ENDOFCHAIN
            off = mini_next * MINI_SECTOR_SIZE
            mini_blob[off:off + e.size] = e.data
            mini_next += count

        # regular streams (filler last)
        stream_parts: list[bytes] = []
        for e in regular:
            count = _ceil_div(e.size, SECTOR_SIZE)
            e.start = allocate(count)
            stream_parts.append(e.data)
            tail = count * SECTOR_SIZE - e.size
            if tail:
                stream_parts.append(bytes(tail))
        next_sector += free_sectors  # left FREESECT
        assert next_sector == total_sectors, (next_sector, total_sectors)

        for e in entries:
            if e.type == TYPE_STREAM and e.size == 0:
                e.start = ENDOFCHAIN
        root = entries[0]
        root.start = mini_container_start if mini_container_sectors else ENDOFCHAIN
        root.size = mini_stream_bytes

        directory = bytearray()
        for e in entries:
            directory += _pack_dir_entry(e)
        empty = _pack_dir_entry(_DirEntry("", TYPE_EMPTY))
        while len(directory) < dir_sectors * SECTOR_SIZE:
            directory += empty

        # DIFAT: header holds the first 109 FAT sector numbers, DIFAT sectors the rest.
        fat_sector_ids = list(range(fat_start, fat_start + fat_count))
        header_difat = fat_sector_ids[:HEADER_DIFAT_ENTRIES]
        header_difat += [FREESECT] * (HEADER_DIFAT_ENTRIES - len(header_difat))
        difat_blob = bytearray()
        rest = fat_sector_ids[HEADER_DIFAT_ENTRIES:]
        for i in range(difat_count):
            chunk = rest[i * DIFAT_ENTRIES_PER_SECTOR:(i + 1) * DIFAT_ENTRIES_PER_SECTOR]
            chunk += [FREESECT] * (DIFAT_ENTRIES_PER_SECTOR - len(chunk))
            nxt = difat_start + i + 1 if i + 1 < difat_count else ENDOFCHAIN
            difat_blob += struct.pack(f"<{DIFAT_ENTRIES_PER_SECTOR}II", *chunk, nxt)

        header = struct.pack(
            "<8s16sHHHHH6sIIIIIIIII",
            MAGIC, bytes(16), 0x003E, 0x0003, 0xFFFE, 9, 6, bytes(6),
            0,  # number of directory sectors: always 0 in version 3
            fat_count, dir_start, 0, MINI_STREAM_CUTOFF,
            minifat_start if minifat_sectors else ENDOFCHAIN, minifat_sectors,
            difat_start if difat_count else ENDOFCHAIN, difat_count,
        ) + struct.pack(f"<{HEADER_DIFAT_ENTRIES}I", *header_difat)
        assert len(header) == SECTOR_SIZE

        if sys.byteorder == "big":
            fat.byteswap()
            minifat.byteswap()
        parts = [header, fat.tobytes(), bytes(difat_blob), bytes(directory), minifat.tobytes(),
                 bytes(mini_blob)]
        parts.extend(stream_parts)
        parts.append(bytes(free_sectors * SECTOR_SIZE))
        out = b"".join(parts)
        if len(out) != (total_sectors + 1) * SECTOR_SIZE:
            raise CompoundFileError("internal error: compound file layout size mismatch")
        if self._pad_size is not None and len(out) != self._pad_size:
            raise CompoundFileError(f"pad_to({self._pad_size}): produced {len(out)} bytes")
        return out
