"""CFHEADER, CFFOLDER and CFFILE: the directory at the start of a cabinet.

Layout from MS-CAB §2.1-2.3 as summarised in FORMATS.md §6.1 (libmspack
``cab.h``/``cabd.c``).  All integers are little-endian::

    CFHEADER  36 bytes, then (RESERVE_PRESENT) u16 cbCFHeader, u8 cbCFFolder,
              u8 cbCFData and cbCFHeader reserve bytes, then (PREV_CABINET)
              szCabinetPrev, szDiskPrev, then (NEXT_CABINET) szCabinetNext,
              szDiskNext -- each a NUL-terminated string of at most 256 bytes.
    CFFOLDER  u32 coffCabStart, u16 cCFData, u16 typeCompress, cbCFFolder bytes
    CFFILE    u32 cbFile, u32 uoffFolderStart, u16 iFolder, u16 date,
              u16 time, u16 attribs, NUL-terminated name (<= 256 bytes)

:func:`read_directory` reads all three from a seekable binary file object with
bounded reads (it never loads the data blocks) and checks every count against
:mod:`msitools.limits`.
"""
from __future__ import annotations

import datetime as _dt
import functools
import struct
from dataclasses import dataclass, field
from enum import IntEnum
from typing import BinaryIO

from msitools.base import codepage as _codepage
from msitools.errors import CabinetError
from msitools.limits import DEFAULT_LIMITS, Limits

SIGNATURE = b"MSCF"

# CFHEADER.flags
FLAG_PREV_CABINET = 0x0001
FLAG_NEXT_CABINET = 0x0002
FLAG_RESERVE_PRESENT = 0x0004

# CFFILE.iFolder special values
IFOLD_CONTINUED_FROM_PREV = 0xFFFD
IFOLD_CONTINUED_TO_NEXT = 0xFFFE
IFOLD_CONTINUED_PREV_AND_NEXT = 0xFFFF

# CFFILE.attribs
ATTR_READONLY = 0x01
ATTR_HIDDEN = 0x02
ATTR_SYSTEM = 0x04
ATTR_ARCHIVE = 0x20
ATTR_EXEC = 0x40
ATTR_NAME_IS_UTF = 0x80

MAX_HEADER_RESERVE = 60000  # MS-CAB: cbCFHeader <= 60,000
MAX_STRING = 256  # CB_MAX_FILENAME / CB_MAX_CABINET_NAME incl. the NUL

_CFHEADER = struct.Struct(
    "<4s"  # signature "MSCF"
    "I"  # reserved1
    "I"  # cbCabinet: size of this cabinet file in bytes
    "I"  # reserved2
    "I"  # coffFiles: offset of the first CFFILE
    "I"  # reserved3
    "B"  # versionMinor (3)
    "B"  # versionMajor (1)
    "H"  # cFolders
    "H"  # cFiles
    "H"  # flags
    "H"  # setID
    "H"  # iCabinet
)
_CFHEADER_RESERVE = struct.Struct(
    "<H"  # cbCFHeader: size of the header reserve area
    "B"  # cbCFFolder: size of each folder's reserve area
    "B"  # cbCFData: size of each data block's reserve area
)
_CFFOLDER = struct.Struct(
    "<I"  # coffCabStart: offset of this folder's first CFDATA
    "H"  # cCFData: number of CFDATA blocks of this folder in this cabinet
    "H"  # typeCompress
)
_CFFILE = struct.Struct(
    "<I"  # cbFile: uncompressed size
    "I"  # uoffFolderStart: offset in the folder's uncompressed stream
    "H"  # iFolder
    "H"  # date
    "H"  # time
    "H"  # attribs
)

HEADER_SIZE = _CFHEADER.size
FOLDER_SIZE = _CFFOLDER.size
FILE_SIZE = _CFFILE.size


class CompressionType(IntEnum):
    """Low four bits of CFFOLDER.typeCompress (wine ``fdi.h`` tcomp*)."""

    NONE = 0
    MSZIP = 1
    QUANTUM = 2
    LZX = 3


@dataclass(frozen=True)
class CabinetHeader:
    """CFHEADER with its optional parts; field names follow MS-CAB."""

    cb_cabinet: int
    coff_files: int
    version_minor: int
    version_major: int
    c_folders: int
    c_files: int
    flags: int
    set_id: int
    i_cabinet: int
    cb_cf_header: int = 0
    cb_cf_folder: int = 0
    cb_cf_data: int = 0
    header_reserve: bytes = b""
    prev_cabinet: str | None = None
    prev_disk: str | None = None
    next_cabinet: str | None = None
    next_disk: str | None = None
    size: int = HEADER_SIZE  # bytes up to the first CFFOLDER

    @property
    def has_prev(self) -> bool:
        return bool(self.flags & FLAG_PREV_CABINET)

    @property
    def has_next(self) -> bool:
        return bool(self.flags & FLAG_NEXT_CABINET)

    @property
    def reserve_present(self) -> bool:
        return bool(self.flags & FLAG_RESERVE_PRESENT)


@dataclass(frozen=True)
class FolderEntry:
    """One CFFOLDER: a compressed stream made of CFDATA blocks."""

    index: int
    coff_cab_start: int
    c_cf_data: int
    type_compress: int
    reserve: bytes = b""

    @property
    def compression(self) -> CompressionType | int:
        kind = self.type_compress & 0x000F
        try:
            return CompressionType(kind)
        except ValueError:
            return kind

    @property
    def window_bits(self) -> int:
        """LZX window bits or Quantum memory bits (typeCompress bits 8-12)."""
        return (self.type_compress >> 8) & 0x1F

    @property
    def quantum_level(self) -> int:
        return (self.type_compress >> 4) & 0x0F

    def describe(self) -> str:
        """Human name of the method, e.g. ``MSZIP``, ``LZX:21``, ``Quantum:4:21``."""
        kind = self.compression
        if kind == CompressionType.NONE:
            return "none"
        if kind == CompressionType.MSZIP:
            return "MSZIP"
        if kind == CompressionType.LZX:
            return f"LZX:{self.window_bits}"
        if kind == CompressionType.QUANTUM:
            return f"Quantum:{self.quantum_level}:{self.window_bits}"
        return f"unknown({kind})"


@dataclass
class FileEntry:
    """One CFFILE record (treat as read-only)."""

    index: int
    cb_file: int
    uoff_folder_start: int
    i_folder: int
    date: int
    time: int
    attribs: int
    name: str
    name_raw: bytes = field(repr=False, default=b"")

    @property
    def continued_from_prev(self) -> bool:
        return self.i_folder in (IFOLD_CONTINUED_FROM_PREV, IFOLD_CONTINUED_PREV_AND_NEXT)

    @property
    def continued_to_next(self) -> bool:
        return self.i_folder in (IFOLD_CONTINUED_TO_NEXT, IFOLD_CONTINUED_PREV_AND_NEXT)

    def folder_index(self, c_folders: int) -> int:
        """The folder this file lives in: 0xFFFD -> first, 0xFFFE/0xFFFF -> last."""
        if self.i_folder == IFOLD_CONTINUED_FROM_PREV:
            return 0
        if self.i_folder in (IFOLD_CONTINUED_TO_NEXT, IFOLD_CONTINUED_PREV_AND_NEXT):
            return c_folders - 1
        return self.i_folder

    @property
    def datetime(self) -> _dt.datetime | None:
        return dos_datetime(self.date, self.time)


@functools.lru_cache(maxsize=4096)  # the files of a cabinet mostly share a handful of timestamps
def dos_datetime(date: int, time: int) -> _dt.datetime | None:
    """DOS date/time words -> naive local datetime, or None when the fields are invalid."""
    try:
        return _dt.datetime(
            ((date >> 9) & 0x7F) + 1980,
            (date >> 5) & 0x0F,
            date & 0x1F,
            (time >> 11) & 0x1F,
            (time >> 5) & 0x3F,
            (time & 0x1F) * 2,
        )
    except ValueError:
        return None


def dos_date_time(value: _dt.datetime) -> tuple[int, int]:
    """Naive datetime -> (date, time) DOS words (seconds rounded down to even)."""
    if not 1980 <= value.year <= 2107:
        raise ValueError(f"year {value.year} cannot be stored in a DOS date")
    date = ((value.year - 1980) << 9) | (value.month << 5) | value.day
    time = (value.hour << 11) | (value.minute << 5) | (value.second // 2)
    return date, time


@dataclass
class Directory:
    """Everything :func:`read_directory` found, plus non-fatal anomalies."""

    header: CabinetHeader
    folders: list[FolderEntry]
    files: list[FileEntry]
    anomalies: list[str]


class _Source:
    """Bounded, buffered reads from a file object at offsets relative to *base*."""

    CHUNK = 65536

    def __init__(self, fileobj: BinaryIO, base: int, name: str):
        self.fileobj = fileobj
        self.base = base
        self.name = name
        self._buf = b""
        self._buf_at = 0

    def _fill(self, offset: int, size: int) -> None:
        try:
            self.fileobj.seek(self.base + offset)
            self._buf = self.fileobj.read(max(size, self.CHUNK)) or b""
        except (OSError, ValueError) as exc:
            raise CabinetError(f"cannot read cabinet at offset {offset}: {exc}", self.name) from exc
        self._buf_at = offset

    def read(self, offset: int, size: int, what: str) -> bytes:
        start = offset - self._buf_at
        if start < 0 or start + size > len(self._buf):
            self._fill(offset, size)
            start = 0
        data = self._buf[start : start + size]
        if len(data) != size:
            raise CabinetError(
                f"truncated cabinet: {what} needs {size} bytes at offset {offset}, "
                f"only {len(data)} present",
                self.name,
            )
        return data

    def window(self, offset: int, size: int) -> bytes:
        """Up to *size* bytes at *offset*: fewer where the file ends (the caller checks)."""
        start = offset - self._buf_at
        if start >= 0 and start + size <= len(self._buf):
            return self._buf[start : start + size]
        try:
            self.fileobj.seek(self.base + offset)
            return self.fileobj.read(size) or b""
        except (OSError, ValueError) as exc:
            raise CabinetError(f"cannot read cabinet at offset {offset}: {exc}", self.name) from exc

    def cstring(self, offset: int, what: str) -> bytes:
        """A NUL-terminated string of at most MAX_STRING bytes (NUL included)."""
        start = offset - self._buf_at
        if start < 0 or start + MAX_STRING > len(self._buf):
            self._fill(offset, MAX_STRING)
            start = 0
        chunk = self._buf[start : start + MAX_STRING]
        end = chunk.find(b"\x00")
        if end < 0:
            if len(chunk) < MAX_STRING:
                raise CabinetError(f"truncated cabinet: {what} at offset {offset} has no end", self.name)
            raise CabinetError(f"{what} at offset {offset} is longer than {MAX_STRING - 1} bytes", self.name)
        return chunk[:end]


def _decode_name(raw: bytes, utf8: bool, codec: str, codepage: int) -> str:
    """A CFFILE name: UTF-8 when flagged, else *codec* (the cabinet's codepage, looked up once)."""
    if utf8:
        return raw.decode("utf-8", errors="replace")
    try:
        return raw.decode(codec)
    except UnicodeDecodeError:
        return _codepage.decode(raw, codepage)


def read_directory(
    fileobj: BinaryIO,
    name: str,
    *,
    base: int = 0,
    limits: Limits = DEFAULT_LIMITS,
    codepage: int = 0,
) -> Directory:
    """Parse CFHEADER, the CFFOLDERs and the CFFILEs of the cabinet at *base*.

    Raises:
        CabinetError: the directory is truncated or malformed.
        LimitExceeded: a count is above its limit.
    """
    src = _Source(fileobj, base, name)
    anomalies: list[str] = []
    raw = src.read(0, HEADER_SIZE, "CFHEADER")
    (sig, _r1, cb_cabinet, _r2, coff_files, _r3, vminor, vmajor,
     c_folders, c_files, flags, set_id, i_cabinet) = _CFHEADER.unpack(raw)
    if sig != SIGNATURE:
        raise CabinetError(f"not a cabinet (signature {sig!r}, expected b'MSCF')", name)
    if (vmajor, vminor) != (1, 3):
        anomalies.append(f"cabinet version {vmajor}.{vminor} (expected 1.3)")
    limits.check("cab_folders", c_folders, "CFHEADER.cFolders", name)
    limits.check("cab_files", c_files, "CFHEADER.cFiles", name)
    if flags & ~0x0007:
        anomalies.append(f"unknown CFHEADER flags 0x{flags:04x}")

    pos = HEADER_SIZE
    cb_cf_header = cb_cf_folder = cb_cf_data = 0
    header_reserve = b""
    if flags & FLAG_RESERVE_PRESENT:
        cb_cf_header, cb_cf_folder, cb_cf_data = _CFHEADER_RESERVE.unpack(
            src.read(pos, _CFHEADER_RESERVE.size, "CFHEADER reserve sizes")
        )
        pos += _CFHEADER_RESERVE.size
        if cb_cf_header > MAX_HEADER_RESERVE:
            raise CabinetError(f"header reserve of {cb_cf_header} bytes exceeds {MAX_HEADER_RESERVE}", name)
        header_reserve = src.read(pos, cb_cf_header, "CFHEADER reserve area")
        pos += cb_cf_header

    strings: dict[str, str | None] = {}
    for flag, keys in ((FLAG_PREV_CABINET, ("prev_cabinet", "prev_disk")),
                       (FLAG_NEXT_CABINET, ("next_cabinet", "next_disk"))):
        for key in keys:
            if flags & flag:
                text = src.cstring(pos, key.replace("_", " ") + " name")
                pos += len(text) + 1
                strings[key] = _codepage.decode(text, codepage)
            else:
                strings[key] = None

    header = CabinetHeader(
        cb_cabinet=cb_cabinet, coff_files=coff_files, version_minor=vminor, version_major=vmajor,
        c_folders=c_folders, c_files=c_files, flags=flags, set_id=set_id, i_cabinet=i_cabinet,
        cb_cf_header=cb_cf_header, cb_cf_folder=cb_cf_folder, cb_cf_data=cb_cf_data,
        header_reserve=header_reserve, size=pos, **strings,
    )

    folders: list[FolderEntry] = []
    step = FOLDER_SIZE + cb_cf_folder
    for index in range(c_folders):
        chunk = src.read(pos, step, f"CFFOLDER {index}")
        start, blocks, type_compress = _CFFOLDER.unpack_from(chunk)
        limits.check("cab_blocks_per_folder", blocks, f"CFFOLDER {index} cCFData", name)
        folders.append(FolderEntry(index, start, blocks, type_compress, bytes(chunk[FOLDER_SIZE:])))
        pos += step

    if coff_files != pos and c_files:
        # libmspack reads CFFILEs right after the folders, the spec says coffFiles:
        # different tools then list different files (libmspack issue #55).
        anomalies.append(f"CFFILE table at coffFiles={coff_files}, not right after the folders ({pos})")
    pos = coff_files

    files: list[FileEntry] = []
    # the whole CFFILE table in one read (at most cFiles fixed parts plus their longest names)
    table = src.window(pos, c_files * (FILE_SIZE + MAX_STRING))
    end_of_table = len(table)
    codec = _codepage.codec_name(codepage)
    unpack = _CFFILE.unpack_from
    at = 0
    for index in range(c_files):
        if at + FILE_SIZE > end_of_table:
            raise CabinetError(f"truncated cabinet: CFFILE {index} needs {FILE_SIZE} bytes at offset {pos + at}, "
                               f"only {max(0, end_of_table - at)} present", name)
        cb_file, uoff, i_folder, date, time, attribs = unpack(table, at)
        at += FILE_SIZE
        stop = table.find(b"\x00", at, at + MAX_STRING)
        if stop < 0:
            if end_of_table - at < MAX_STRING:
                raise CabinetError(f"truncated cabinet: CFFILE {index} name at offset {pos + at} has no end", name)
            raise CabinetError(f"CFFILE {index} name at offset {pos + at} is longer than {MAX_STRING - 1} bytes",
                               name)
        raw_name = table[at:stop]
        at = stop + 1
        if not raw_name:
            raise CabinetError(f"CFFILE {index} has an empty name", name)
        file_name = _decode_name(raw_name, bool(attribs & ATTR_NAME_IS_UTF), codec, codepage)
        if i_folder < IFOLD_CONTINUED_FROM_PREV:
            if i_folder >= c_folders:
                raise CabinetError(
                    f"CFFILE {index} ({file_name!r}) names folder {i_folder}, "
                    f"but the cabinet has {c_folders} folder(s)",
                    name,
                )
        else:
            if not c_folders:
                raise CabinetError(
                    f"CFFILE {index} ({file_name!r}) is continued (iFolder 0x{i_folder:04X}) "
                    "but the cabinet has no folders",
                    name,
                )
            if i_folder != IFOLD_CONTINUED_TO_NEXT and not flags & FLAG_PREV_CABINET:
                anomalies.append(f"CFFILE {index} continues from a previous cabinet but the header names none")
            if i_folder != IFOLD_CONTINUED_FROM_PREV and not flags & FLAG_NEXT_CABINET:
                anomalies.append(f"CFFILE {index} continues in a next cabinet but the header names none")
        if uoff + cb_file > 0xFFFFFFFF:
            raise CabinetError(f"CFFILE {index} ({file_name!r}) ends beyond 4 GiB in its folder", name)
        files.append(FileEntry(index, cb_file, uoff, i_folder, date, time, attribs, file_name, raw_name))

    return Directory(header, folders, files, anomalies)
