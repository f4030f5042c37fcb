"""Fast path: let libarchive (through libarchive-c) decode a single cabinet.

libarchive's cab reader (``archive_read_support_format_cab.c``) handles
none/MSZIP/LZX folders of one cabinet.  What it does differently from this
package's Python path, and why :func:`unsuitable` sends such cabinets to the
Python decoders instead:

* it always verifies CFDATA checksums, but sums the data reserve area
  (cbCFData bytes) into the checksum, which libmspack and real files do not:
  cabinets with a non-empty data reserve area would fail;
* header and folder reserve areas are skipped correctly;
* skipping entries without reading them returns wrong data or fails
  ("Invalid CFDATA") once an MSZIP folder is followed by another folder
  (seen with libarchive 3.6.2), so this module reads every entry to its end;
* it refuses cabinet sets ("Multivolume cabinet file is unsupported") and
  continued files, Quantum folders, empty cabinets, files that are not laid
  out back to back in folder order ("Invalid CAB header"), and non-final
  blocks that do not decode to 32768 bytes.

* before a fix merged in 2026 (libarchive pull request 3365), its LZX decoder
  accepts matches that reach into history never written and returns the
  window's initial zeros as data (libarchive 3.6.2 extracts its own
  ``test_read_format_cab_lzx_invalid_history.cab``).  A verifier must not
  prefer a decoder that accepts bad data, so :func:`lzx_trusted` probes the
  loaded library once with such a stream (and a valid control) and the
  ``auto`` choice gives LZX to libarchive only when it rejects the probe.

It is imported lazily; without libarchive-c everything runs in Python.  With
``fallback=True`` a libarchive error switches the rest of the iteration to the
Python decoders, resuming the current member where libarchive stopped.
"""
from __future__ import annotations

import io
import logging
import os
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING, Any, BinaryIO

from msitools.cab.header import ATTR_NAME_IS_UTF, IFOLD_CONTINUED_FROM_PREV, CompressionType
from msitools.errors import CabinetError, ChecksumError, DecompressionError, MsiToolsError, UsageError

if TYPE_CHECKING:  # pragma: no cover
    from msitools.cab.reader import CabinetMember, CabinetSet

READ_BLOCK = 65536


def available() -> bool:
    """True when libarchive-c and the libarchive shared library can be loaded."""
    try:
        import libarchive  # noqa: F401
    except (ImportError, OSError, AttributeError):
        return False
    return True


# Two one-file LZX cabinets built by msitools.testing.writer (tests rebuild
# them and compare): the first starts with a 3-byte match at offset 1, before
# any history exists (an invalid stream); the second is a valid control that
# decodes to CONTROL_TEXT.
REACH_BACK_PROBE = bytes.fromhex(
    "4d534346000000007c000000000000002c00000000000000030101000100000034120000460000000100030f03000000"
    "000000000000ad3e7ba9200070726f62652e747874005ea554bc2e0003000010300000000000000001000701ffffe4ff"
    "00000000000004001602effb70be00800000000000008700ffff30ff"
)
CONTROL_PROBE = bytes.fromhex(
    "4d5343460000000080000000000000002c00000000000000030101000100000034120000460000000100030f0f000000"
    "000000000000ad3e7ba9200070726f62652e74787400e49a9f9732000f000010f00000000000000000010f0110faff0f"
    "00ac00000000000000043743ffff00d80000000000008000ff81ffff70bae06e"
)
CONTROL_TEXT = b"abcabcabcabcxyz"

_lzx_verdict: tuple[bool, str] | None = None


def _decode_probe(raw: bytes) -> bytes:
    import libarchive

    _quiet_logger()
    with libarchive.memory_reader(raw, format_name="cab") as archive:
        return b"".join(b"".join(entry.get_blocks()) for entry in archive)


def lzx_trusted() -> tuple[bool, str]:
    """Whether the loaded libarchive may decode LZX for the ``auto`` choice, and why.

    True only when it rejects :data:`REACH_BACK_PROBE` and decodes
    :data:`CONTROL_PROBE` exactly; probed once per process.
    """
    global _lzx_verdict
    if _lzx_verdict is None:
        _lzx_verdict = _probe_lzx()
    return _lzx_verdict


def _probe_lzx() -> tuple[bool, str]:
    if not available():
        return False, "libarchive-c is not installed"
    try:
        if _decode_probe(CONTROL_PROBE) != CONTROL_TEXT:
            return False, "libarchive decodes a valid LZX stream wrongly"
    except Exception:
        return False, "libarchive cannot decode a valid LZX stream"
    try:
        data = _decode_probe(REACH_BACK_PROBE)
    except Exception:
        return True, "libarchive rejects LZX matches before the start of the data"
    return False, (f"libarchive accepts an LZX match before the start of the data (returned {len(data)} bytes); "
                   "LZX is decoded in Python")


def unsuitable(cabset: CabinetSet, verify_checksums: bool = True) -> str | None:
    """Why libarchive cannot read *cabset* exactly like the Python path, or None."""
    if len(cabset.cabinets) != 1:
        return "it is a set of several cabinets"
    cab = cabset.cabinets[0]
    header = cab.header
    if header.has_prev or header.has_next or header.i_cabinet:
        return "it is part of a cabinet set"
    if not cab.folders or not cab.files:
        return "it has no folders or no files"
    if header.cb_cf_data:
        return "it has a data reserve area (libarchive sums it into the checksums)"
    if any("coffFiles" in note for note in cab.anomalies):
        return "its file table is not right after the folders"
    for folder in cab.folders:
        if folder.compression not in (CompressionType.NONE, CompressionType.MSZIP, CompressionType.LZX):
            return f"folder {folder.index} uses {folder.describe()}"
        if folder.compression == CompressionType.LZX and not 15 <= folder.window_bits <= 21:
            return f"folder {folder.index} uses {folder.describe()}"
    expected_folder, expected_offset = 0, 0
    for entry in cab.files:
        if entry.i_folder >= IFOLD_CONTINUED_FROM_PREV:
            return "it has continued files"
        if entry.i_folder != expected_folder:
            if entry.i_folder < expected_folder:
                return "its files are not in folder order"
            expected_folder, expected_offset = entry.i_folder, 0
        if entry.uoff_folder_start != expected_offset:
            return "its files are not stored back to back"
        if entry.attribs & ATTR_NAME_IS_UTF and not _valid_utf8(entry.name_raw):
            return "a name flagged UTF-8 is not valid UTF-8 (libarchive would log warnings)"
        if entry.cb_file > 0x7FFF8000:
            return "a file is larger than libarchive accepts"
        expected_offset += entry.cb_file
        if expected_offset > 0x7FFF8000:
            return "a folder is larger than libarchive accepts"
        if entry.cb_file and not cab.folders[entry.i_folder].c_cf_data:
            return "a file lives in a folder without data blocks"
    if any(f.problems or f.duplicates for f in cabset.folders):
        return "it has overlapping files"
    return None


def _valid_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


class _Window(io.RawIOBase):
    """A read-only view of *fileobj* that starts at *base* (for libarchive callbacks)."""

    def __init__(self, fileobj: BinaryIO, base: int):
        super().__init__()
        self._f = fileobj
        self._base = base
        self._f.seek(base)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        view = memoryview(buffer).cast("B")  # a ctypes array: slice assignment would go byte by byte
        data = self._f.read(len(view))
        n = len(data)
        view[:n] = data
        return n

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_SET:
            self._f.seek(self._base + offset)
        else:
            self._f.seek(offset, whence)
        return self.tell()

    def tell(self) -> int:
        return self._f.tell() - self._base


def _quiet_logger() -> None:
    # libarchive-c logs libarchive's warnings on the "libarchive" logger and
    # configures no handler, so Python's last-resort handler would print them.
    logger = logging.getLogger("libarchive")
    if not any(isinstance(h, logging.NullHandler) for h in logger.handlers):
        logger.addHandler(logging.NullHandler())


@contextmanager
def _open_archive(fileobj: BinaryIO, base: int) -> Iterator[Any]:  # yields a libarchive ArchiveRead
    import libarchive

    _quiet_logger()

    fd = None
    if base == 0:
        try:
            fd = fileobj.fileno()
        except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
            fd = None
    if fd is not None:
        os.lseek(fd, 0, os.SEEK_SET)
        with libarchive.fd_reader(fd, format_name="cab", block_size=READ_BLOCK) as archive:
            yield archive
    else:
        with libarchive.stream_reader(_Window(fileobj, base), format_name="cab", block_size=READ_BLOCK) as archive:
            yield archive


def _convert(exc: Exception, name: str) -> CabinetError:
    text = str(getattr(exc, "msg", "") or exc).splitlines()[0] if str(exc) else type(exc).__name__
    if "Checksum" in text:
        return ChecksumError(f"libarchive: {text}", name)
    if "decompression" in text.lower() or "deflate" in text.lower() or "Invalid uncompressed size" in text:
        return DecompressionError(f"libarchive: {text}", name)
    return CabinetError(f"libarchive: {text}", name)


class _Run:
    """State of one libarchive pass over a cabinet, with the Python fallback."""

    def __init__(self, cabset: CabinetSet, fallback: bool, verify: bool):
        from msitools.cab.folder import Budget

        self.cabset = cabset
        self.cab = cabset.cabinets[0]
        self.fallback = fallback
        self.verify = verify
        self.budget = Budget(cabset.limits, self.cab.name)
        self.entries: Iterator | None = None
        self.next_index = 0  # index of the next entry libarchive will return
        self.python = False
        self.current: object = None
        self._py_states: dict = {}
        self._ctx: AbstractContextManager[Any] | None = None
        self.failed: CabinetError | None = None
        self._pending = None  # the entry handed out last, maybe not read to its end

    def start(self) -> None:
        self._ctx = _open_archive(self.cab._fileobj, self.cab._base)
        archive = self._ctx.__enter__()
        self.entries = iter(archive)

    def stop(self) -> None:
        self._pending = None
        if self._ctx is not None:
            ctx, self._ctx = self._ctx, None
            ctx.__exit__(None, None, None)

    def _entry(self, index: int):
        assert self.entries is not None
        # libarchive 3.6 returns wrong data after *skipping* entries of an
        # MSZIP folder ("Invalid CFDATA", "Truncated CAB header", or silently
        # wrong bytes), so every entry is read to its end instead.
        self._drain(self._pending)
        self._pending = None
        entry = None
        while self.next_index <= index:
            try:
                entry = next(self.entries)
            except StopIteration:
                raise CabinetError("libarchive lists fewer files than the cabinet", self.cab.name) from None
            if self.next_index < index:
                self._drain(entry)
            self.next_index += 1
        self._pending = entry
        return entry

    def _drain(self, entry) -> None:
        from libarchive.entry import ConsumedArchiveEntry, PassedArchiveEntry

        if entry is not None and not isinstance(entry, (ConsumedArchiveEntry, PassedArchiveEntry)):
            for block in entry.get_blocks(READ_BLOCK):
                self.budget.add(len(block))

    def _python_chunks(self, member: CabinetMember, skip: int) -> Iterator[bytes]:
        from msitools.cab.folder import FolderState

        folder = self.cabset.folders[member.folder]
        state = self._py_states.get(folder.index)
        if state is None:
            self._py_states.clear()
            state = FolderState(self.cabset, folder, self.verify, self.budget)
            self._py_states[folder.index] = state
        token = object()
        state.current = token
        position = folder.members.index(member)
        return state.chunks(position, member, token, skip=skip)

    def chunks(self, index: int, member: CabinetMember, token: object) -> Iterator[bytes]:
        if self.python:
            yield from self._python_chunks(member, 0)
            return
        if self.failed is not None:
            raise type(self.failed)(
                f"member {member.name!r} not extracted: libarchive failed earlier: {self.failed.message}",
                self.failed.path,
            )
        delivered = 0
        try:
            entry = self._entry(index)
            if entry.size != member.size:
                raise CabinetError(
                    f"libarchive reports {entry.size} bytes for member {member.name!r}, the cabinet {member.size}",
                    self.cab.name,
                )
            for block in entry.get_blocks(READ_BLOCK):
                if delivered + len(block) > member.size:
                    raise CabinetError(f"libarchive returned more than {member.size} bytes", self.cab.name)
                delivered += len(block)
                self.budget.add(len(block))
                yield block
                if self.current is not token:
                    raise UsageError(f"chunks of member {member.name!r} used after the iteration moved on")
            if delivered != member.size:
                raise CabinetError(
                    f"libarchive returned {delivered} of {member.size} bytes for member {member.name!r}",
                    self.cab.name,
                )
        except (UsageError, GeneratorExit):
            raise
        except MsiToolsError as exc:
            if not self.fallback:
                if isinstance(exc, CabinetError):
                    self.failed = exc
                    self.stop()
                raise
            self._switch()
            yield from self._python_chunks(member, delivered)
        except Exception as exc:  # libarchive.ArchiveError and ctypes-level failures
            if not self.fallback:
                self.failed = _convert(exc, self.cab.name)
                self.stop()
                raise self.failed from exc
            self._switch()
            yield from self._python_chunks(member, delivered)

    def _switch(self) -> None:
        self.python = True
        self.stop()


def iter_members(cabset: CabinetSet, wanted: Callable[[CabinetMember], bool], *, fallback: bool,
                 verify_checksums: bool) -> Iterator[tuple[CabinetMember, Iterator[bytes]]]:
    """libarchive counterpart of :meth:`CabinetSet.iter_members` for a suitable cabinet."""
    run = _Run(cabset, fallback, verify_checksums)
    # libarchive returns entries in CFFILE order, which for a suitable cabinet
    # is also folder/offset order.
    order = {(m.cabinet, m.file_index): m for m in cabset.members}
    members = [order[(run.cab.name, entry.index)] for entry in run.cab.files]
    try:
        try:
            run.start()
        except Exception as exc:
            if not fallback:
                raise _convert(exc, run.cab.name) from exc
            run.python = True
        for index, member in enumerate(members):
            if not wanted(member):
                continue
            token = object()
            run.current = token
            yield member, run.chunks(index, member, token)
        run.current = None
    finally:
        run.stop()
