"""The compound file (OLE2 / MS-CFB) container: the one module that wraps olefile.

olefile parses the header, the FAT, the mini FAT and the directory tree.  We
add what olefile does not offer:

* lazy, random-access stream readers (:class:`StreamReader`) that read sector
  runs on demand, so a 500 MB embedded cabinet is never held in memory;
* chain validation with cycle and bounds checks, reported as
  :class:`~msitools.errors.CompoundFileError` with the stream's name;
* raw directory-entry metadata (name bytes, CLSID bytes, state bits, FILETIMEs)
  needed for the MSI Authenticode digest.

No olefile exception leaves this module.
"""
from __future__ import annotations

import io
import os
import struct
import weakref
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

import olefile
from olefile.olefile import OleFileError

from msitools.errors import CompoundFileError, MsiToolsError, TruncatedError
from msitools.limits import DEFAULT_LIMITS, Limits

ENDOFCHAIN = 0xFFFFFFFE
FREESECT = 0xFFFFFFFF
MAXREGSECT = 0xFFFFFFFA

# compound files opened from a path: a forked child gets its own file offset for each (see _reopen_in_child)
_OWNED_FILES: weakref.WeakSet[CompoundFile] = weakref.WeakSet()


def _reopen_in_child() -> None:
    """After fork: give each open compound file a descriptor of its own.

    A forked child shares its parent's open file descriptions, and with them the
    file offset that every seek-then-read moves; two processes reading one
    package would read each other's bytes.  The child re-opens the same file
    (through ``/proc/self/fd`` where it exists, so a file renamed or replaced
    meanwhile is not picked up instead).
    """
    for cfb in list(_OWNED_FILES):
        old = cfb._fp
        if old is None:
            continue
        try:
            fresh = open(f"/proc/self/fd/{old.fileno()}", "rb")  # noqa: SIM115 (kept open by the object, closed by close())
        except OSError:
            fresh = open(cfb._path, "rb")  # noqa: SIM115 (kept open by the object, closed by close())
        cfb._fp = fresh
        ole = getattr(cfb, "_ole", None)
        if ole is not None:
            ole.fp = fresh
        old.close()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reopen_in_child)

KIND_ROOT = "root"
KIND_STORAGE = "storage"
KIND_STREAM = "stream"

_KINDS = {
    olefile.STGTY_ROOT: KIND_ROOT,
    olefile.STGTY_STORAGE: KIND_STORAGE,
    olefile.STGTY_STREAM: KIND_STREAM,
}

CFB_MAGIC = b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1"


def clsid_bytes(text: str) -> bytes:
    """olefile formats CLSIDs as text; turn one back into its 16 on-disk bytes."""
    if not text:
        return b"\x00" * 16
    import uuid  # rarely needed: not worth its import time (~1.5 ms) on every command

    return uuid.UUID(text).bytes_le


_CLSID = struct.Struct("<IHH8s")


def clsid_text(raw: bytes) -> str:
    """A CLSID's 16 on-disk (mixed-endian) bytes as braced upper-case text.

    For example ``{000C1084-0000-0000-C000-000000000046}``, the class id of an MSI database.
    """
    d1, d2, d3, d4 = _CLSID.unpack(bytes(raw))
    return f"{{{d1:08X}-{d2:04X}-{d3:04X}-{d4[:2].hex().upper()}-{d4[2:].hex().upper()}}}"


@dataclass(eq=False)
class Entry:
    """One directory entry: the root, a storage or a stream."""

    sid: int
    name: str  # the raw UTF-16 name as a str (MSI names are still encoded here)
    name_utf16: bytes  # the raw name bytes without the terminating NUL
    kind: str
    clsid: bytes  # 16 bytes, as stored
    state_bits: int
    created: int  # FILETIME as stored (0 = not set)
    modified: int
    start_sector: int
    size: int
    parent: Entry | None = field(default=None, repr=False)
    children: list[Entry] = field(default_factory=list, repr=False)

    @property
    def is_stream(self) -> bool:
        return self.kind == KIND_STREAM

    @property
    def is_storage(self) -> bool:
        return self.kind in (KIND_STORAGE, KIND_ROOT)

    @property
    def clsid_text(self) -> str:
        return clsid_text(self.clsid)

    def child(self, name: str) -> Entry | None:
        for kid in self.children:
            if kid.name == name:
                return kid
        return None

    @property
    def path(self) -> str:
        parts = []
        node: Entry | None = self
        while node is not None and node.kind != KIND_ROOT:
            parts.append(node.name)
            node = node.parent
        return "/".join(reversed(parts))


class CompoundFile:
    """A read-only compound file.

    ``CompoundFile(path)`` or ``CompoundFile(data_bytes, name=...)``.  Use as a
    context manager or call :meth:`close`.
    """

    def __init__(self, source: str | os.PathLike[str] | bytes | bytearray | memoryview | BinaryIO,
                 name: str | None = None, limits: Limits = DEFAULT_LIMITS):
        self.limits = limits
        self._owns_fp = False
        if isinstance(source, (bytes, bytearray, memoryview)):
            self.name = name or "<bytes>"
            self._fp: BinaryIO = io.BytesIO(bytes(source))
        elif hasattr(source, "read"):
            stream_name: str = getattr(source, "name", "<stream>")
            self.name = name or stream_name
            self._fp = source  # type: ignore[assignment]
        else:
            self.name = name or os.fspath(source)
            try:
                self._fp = open(source, "rb")  # noqa: SIM115 (kept open by the object, closed by close())
            except OSError as exc:
                raise CompoundFileError(f"cannot open: {exc.strerror or exc}", self.name) from None
            self._owns_fp = True
            self._path = os.fspath(source)
            _OWNED_FILES.add(self)
        try:
            self._fp.seek(0, io.SEEK_END)
            self.file_size = self._fp.tell()
            self._fp.seek(0)
            head = self._fp.read(32)
            magic = head[:8]
            self._fp.seek(0)
        except OSError as exc:
            self.close()
            raise CompoundFileError(f"cannot read: {exc}", self.name) from None
        if magic != CFB_MAGIC:
            self.close()
            if len(magic) < 8:
                raise CompoundFileError("not a compound file (file is too short)", self.name)
            raise CompoundFileError("not a compound file (bad signature; not an MSI, MSP or MST)", self.name)
        shift = int.from_bytes(head[30:32], "little") if len(head) >= 32 else 9
        self._unit = 1 << shift if shift in (9, 12) else 512
        if self.file_size < 1024:
            self.close()
            raise CompoundFileError(f"truncated compound file ({self.file_size} bytes)", self.name)
        try:
            self._ole = olefile.OleFileIO(self._fp, raise_defects=olefile.DEFECT_INCORRECT)
        except MsiToolsError:
            self.close()
            raise
        except (OleFileError, OSError, ValueError, IndexError, KeyError, struct.error,
                OverflowError, MemoryError, RecursionError, TypeError) as exc:
            self.close()
            raise CompoundFileError(f"malformed compound file: {_olefile_message(exc)}{self.truncation_hint()}",
                                    self.name) from None
        self.sector_size: int = self._ole.sectorsize
        self.mini_sector_size: int = self._ole.minisectorsize
        self.mini_cutoff: int = self._ole.minisectorcutoff
        self._fat = self._ole.fat
        self._minifat = None
        self._mini_runs = None
        self.entries: list[Entry] = []
        try:
            self._check_open_chain(self._ole.first_dir_sector, "directory")
            self.root = self._build_tree()
        except CompoundFileError as exc:
            self.close()
            raise CompoundFileError(exc.message + self.truncation_hint(), self.name) from None
        except BaseException:
            self.close()
            raise

    def truncation_hint(self) -> str:
        """Words to add to an error when the file's size is not a whole number of sectors (a cut download)."""
        if (self.file_size - self._unit) % self._unit == 0:
            return ""
        return (f" (the file is {self.file_size:,} bytes, not a whole number of {self._unit}-byte sectors: "
                "it looks truncated; the download may be incomplete)")

    def _check_open_chain(self, start: int, what: str) -> None:
        """Walk a chain of unknown length (the directory) checking bounds and loops."""
        fat = self._fat
        sect = start
        seen = set()
        while sect != ENDOFCHAIN:
            if sect >= len(fat) or sect > MAXREGSECT:
                raise CompoundFileError(f"broken {what} sector chain: sector {sect:#x} out of range", self.name)
            if sect in seen:
                raise CompoundFileError(f"{what} sector chain loops (sector {sect:#x})", self.name)
            seen.add(sect)
            sect = fat[sect]

    # -- directory -------------------------------------------------------
    def _build_tree(self) -> Entry:
        ole = self._ole
        limits = self.limits
        direntries = ole.direntries
        limits.check("cfb_directory_entries", len(direntries), "directory entries", self.name)
        by_sid: dict[int, Entry] = {}

        def convert(de) -> Entry:
            kind = _KINDS.get(de.entry_type)
            entry = Entry(
                sid=de.sid,
                name=de.name,
                name_utf16=bytes(de.name_utf16),
                kind=kind or "unknown",
                clsid=clsid_bytes(de.clsid) if de.clsid else b"\x00" * 16,
                state_bits=de.dwUserFlags,
                created=de.createTime,
                modified=de.modifyTime,
                start_sector=de.isectStart,
                size=de.size,
            )
            by_sid[de.sid] = entry
            return entry

        root_de = ole.root
        root = convert(root_de)
        # walk olefile's storage tree iteratively (it already rejected
        # duplicated / looping sibling links while loading the directory)
        stack = [(root_de, root)]
        seen = {root_de.sid}
        while stack:
            de, entry = stack.pop()
            for kid in de.kids:
                if kid.sid in seen:
                    raise CompoundFileError(f"directory tree loops back to entry {kid.sid}", self.name)
                seen.add(kid.sid)
                child = convert(kid)
                child.parent = entry
                entry.children.append(child)
                if kid.entry_type == olefile.STGTY_STORAGE:
                    stack.append((kid, child))
        self.entries = [by_sid[sid] for sid in sorted(by_sid)]
        return root

    def walk(self, storage: Entry | None = None) -> Iterator[Entry]:
        """Every entry below *storage* (default: the root), depth first."""
        stack = list(reversed((storage or self.root).children))
        while stack:
            entry = stack.pop()
            yield entry
            if entry.is_storage:
                stack.extend(reversed(entry.children))

    # -- stream data -----------------------------------------------------
    def _chain(self, start: int, size: int, fat, unit: int, what: str, cut: list[int] | None = None) -> Iterator[int]:
        """Sector numbers of a chain, validated as they are walked: bounds, loops, length.

        Loops are caught with a one-byte-per-sector map, not a set of every
        sector: a 2 GB stream must not cost a 4-million-entry set.  With *cut*
        (regular sectors only), a chain that runs into a sector past the end of
        a truncated file stops there, and the number of sectors walked is
        appended to *cut*, instead of raising.
        """
        needed = (size + unit - 1) // unit
        if needed == 0:
            return
        limit = len(fat)
        if needed > limit and cut is None:
            raise CompoundFileError(f"stream {what!r} declares {size} bytes, more than the file holds", self.name)
        seen = bytearray(limit)
        sect = start
        for walked in range(needed):
            if sect >= limit or sect > MAXREGSECT:
                if cut is not None and self._past_end(sect):
                    cut.append(walked)
                    return
                if sect == ENDOFCHAIN:
                    raise CompoundFileError(f"stream {what!r} is truncated: its sector chain ends early", self.name)
                raise CompoundFileError(f"broken sector chain in stream {what!r}: sector {sect:#x} out of range"
                                        f"{self.truncation_hint()}", self.name)
            if seen[sect]:
                raise CompoundFileError(f"sector chain of stream {what!r} loops (sector {sect:#x})", self.name)
            seen[sect] = 1
            yield sect
            sect = fat[sect]

    def _past_end(self, sect: int) -> bool:
        """True when regular sector *sect* would lie (at least partly) past the end of the file."""
        return sect <= MAXREGSECT and (sect + 2) * self.sector_size > self.file_size

    @staticmethod
    def _runs(chain: Iterable[int], unit: int, base_of) -> list[tuple[int, int, int]]:
        """Coalesce a sector chain into (stream_offset, file_offset, length) runs."""
        runs: list[tuple[int, int, int]] = []
        pos = 0
        for sect in chain:
            off = base_of(sect)
            if runs and runs[-1][1] + runs[-1][2] == off:
                s, f, n = runs[-1]
                runs[-1] = (s, f, n + unit)
            else:
                runs.append((pos, off, unit))
            pos += unit
        return runs

    def _mini_stream_runs(self):
        if self._mini_runs is None:
            root = self._ole.root
            chain = self._chain(root.isectStart, root.size, self._fat, self.sector_size, "mini stream")
            ss = self.sector_size
            self._mini_runs = self._runs(chain, ss, lambda s: (s + 1) * ss)
            try:
                self._ole.loadminifat()
            except (OleFileError, OSError, ValueError, IndexError) as exc:
                raise CompoundFileError(f"malformed mini FAT: {_olefile_message(exc)}", self.name) from None
            self._minifat = self._ole.minifat
        return self._mini_runs

    def stream_runs(self, entry: Entry) -> list[tuple[int, int, int]]:
        if not entry.is_stream and entry.kind != KIND_ROOT:
            raise CompoundFileError(f"{entry.name!r} is not a stream", self.name)
        self.limits.check("cfb_stream_size", entry.size, f"stream {entry.path!r}", self.name)
        if entry.size == 0:
            return []
        if entry.size < self.mini_cutoff and entry.kind == KIND_STREAM:
            mini_runs = self._mini_stream_runs()
            ms = self.mini_sector_size
            chain = self._chain(entry.start_sector, entry.size, self._minifat, ms, entry.path)

            def mini_offset(msect: int) -> int:
                pos = msect * ms
                for s, f, n in mini_runs:
                    if s <= pos < s + n:
                        return f + (pos - s)
                raise CompoundFileError(f"stream {entry.path!r} points outside the mini stream", self.name)

            return self._runs(chain, ms, mini_offset)
        ss = self.sector_size
        chain = self._chain(entry.start_sector, entry.size, self._fat, ss, entry.path)
        return self._runs(chain, ss, lambda s: (s + 1) * ss)

    def _regular_runs(self, entry: Entry) -> tuple[list[tuple[int, int, int]], int]:
        """Runs of a stream in regular sectors and how many of its bytes the file holds."""
        ss = self.sector_size
        cut: list[int] = []
        runs = self._runs(self._chain(entry.start_sector, entry.size, self._fat, ss, entry.path, cut), ss,
                          lambda s: (s + 1) * ss)
        present = entry.size
        if runs:
            s, f, n = runs[-1]
            present = min(present, s + max(0, min(n, self.file_size - f)))
        elif entry.size:
            present = 0
        if cut:
            present = min(present, cut[0] * ss)
        return runs, present

    def truncated_streams(self) -> list[tuple[Entry, int]]:
        """Streams in regular sectors that the file holds only in part, with the bytes present.

        Walks every such stream's sector chain once (streams with a broken chain are
        left to the reader that opens them).
        """
        out = []
        for entry in self.walk():
            if entry.is_stream and entry.size >= self.mini_cutoff:
                try:
                    _runs, present = self._regular_runs(entry)
                except CompoundFileError:
                    continue
                if present < entry.size:
                    out.append((entry, present))
        return out

    def open_stream(self, entry: Entry) -> StreamReader:
        """A lazy, seekable binary reader over a stream's bytes.

        A stream in regular sectors of a truncated file opens with the bytes the
        file still holds (:attr:`StreamReader.present`): sized reads stop at the
        cut, as at the end of a file, so a reader can salvage what lies before
        it; reading the whole stream raises :class:`~msitools.errors.TruncatedError`.
        """
        if entry.is_stream and entry.size >= self.mini_cutoff:
            self.limits.check("cfb_stream_size", entry.size, f"stream {entry.path!r}", self.name)
            runs, present = self._regular_runs(entry)
            return StreamReader(self, entry, runs, present)
        return StreamReader(self, entry, self.stream_runs(entry))

    def read_stream(self, entry: Entry) -> bytes:
        with self.open_stream(entry) as reader:
            return reader.read()

    def _read_at(self, offset: int, length: int) -> bytes:
        fp = self._fp
        fp.seek(offset)
        return fp.read(length)

    def close(self) -> None:
        ole = getattr(self, "_ole", None)
        if ole is not None:
            try:
                ole.close()
            except Exception:  # pragma: no cover - olefile close never matters
                pass
        if self._owns_fp and getattr(self, "_fp", None) is not None:
            self._fp.close()
            self._fp = None  # type: ignore[assignment]

    def __enter__(self) -> CompoundFile:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class StreamReader(io.RawIOBase):
    """Random-access reader over one stream; reads sector runs on demand."""

    def __init__(self, cfb: CompoundFile, entry: Entry, runs, present: int | None = None):
        super().__init__()
        self._cfb = cfb
        self.entry = entry
        self.name = entry.path
        self.size = entry.size
        self.present = entry.size if present is None else present  # bytes the file holds (less when truncated)
        self._runs = runs
        self._pos = 0
        self._run_index = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_SET:
            pos = offset
        elif whence == io.SEEK_CUR:
            pos = self._pos + offset
        elif whence == io.SEEK_END:
            pos = self.size + offset
        else:
            raise ValueError("bad whence")
        if pos < 0:
            raise ValueError("negative seek position")
        self._pos = pos
        return pos

    def _locate(self, pos: int) -> int:
        runs = self._runs
        i = self._run_index
        if not (runs[i][0] <= pos < runs[i][0] + runs[i][2]):
            lo, hi = 0, len(runs) - 1
            while lo < hi:
                mid = (lo + hi + 1) // 2
                if runs[mid][0] <= pos:
                    lo = mid
                else:
                    hi = mid - 1
            i = lo
            self._run_index = i
        return i

    def read(self, size: int = -1) -> bytes:
        """Up to *size* bytes (all when negative).  In a truncated file a sized read
        stops short at the cut, as at the end of a file; reading the whole stream raises
        :class:`~msitools.errors.TruncatedError`."""
        remaining = self.size - self._pos
        if remaining <= 0:
            return b""
        whole = size is None or size < 0
        if whole or size > remaining:
            size = remaining
        out = []
        pos = self._pos
        end = pos + size
        if end > self.present:  # a truncated file: what is there, as a file would; nothing more
            if whole:
                raise self._truncated()
            end = max(pos, self.present)
        while pos < end:
            i = self._locate(pos)
            s, f, n = self._runs[i]
            take = min(end, s + n) - pos
            chunk = self._cfb._read_at(f + (pos - s), take)
            if len(chunk) < take:
                self.present = min(self.present, pos + len(chunk))
                if whole:
                    raise self._truncated()
                out.append(chunk)
                pos += len(chunk)
                break
            out.append(chunk)
            pos += take
        self._pos = pos
        if not out:
            return b""
        return out[0] if len(out) == 1 else b"".join(out)

    def _truncated(self) -> TruncatedError:
        from msitools.container.streamname import decode_stream_name

        shown = decode_stream_name(self.entry.name)[0] if self.entry.parent is self._cfb.root else self.name
        return TruncatedError(f"stream {shown!r} is truncated: {self.present:,} of {self.size:,} bytes present "
                              f"(the file ends at {self._cfb.file_size:,} bytes; the download may be incomplete)",
                              self._cfb.name)

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        return n

    def readall(self) -> bytes:
        return self.read()


def _olefile_message(exc: BaseException) -> str:
    text = str(exc).strip() or exc.__class__.__name__
    return text.splitlines()[0]
