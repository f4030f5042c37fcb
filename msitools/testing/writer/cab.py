"""Write cabinets for test fixtures: deterministic, none/MSZIP (plus Quantum/LZX), reserves, sets.

Layout written (MS-CAB; FORMATS.md §6.1): CFHEADER (+ reserve sizes and
header reserve when any reserve is asked for, + prev/next names in sets),
the CFFOLDERs, the CFFILEs, then each folder's CFDATA blocks in order.  Every
block except a folder's last holds 32768 uncompressed bytes; MSZIP blocks are
``CK`` + a raw DEFLATE stream that ends with a final block and uses the
previous 32 KiB of the folder as preset dictionary.  Checksums follow
libmspack (reserve area not summed).  Dates default to a fixed value so the
same input always gives the same bytes.

Sets (:func:`build_cabinet_set`) follow the convention libmspack and Microsoft
tools rely on: when a folder does not fit, the block that crosses the limit is
split (first part with cbUncomp = 0 at the end of cabinet N, the rest as the
first block of cabinet N+1); the folder is closed after the last file that
starts before the end of that block, so the continuation folder of cabinet
N+1 holds only continued files, listed with 0xFFFD (0xFFFF when they go on
again) after being listed with 0xFFFE in cabinet N; the remaining files start
a new folder.
"""
from __future__ import annotations

import dataclasses
import datetime as _dt
import os
import struct
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Union

from msitools.cab.checksum import block_checksum
from msitools.cab.header import (
    ATTR_ARCHIVE,
    ATTR_NAME_IS_UTF,
    FLAG_NEXT_CABINET,
    FLAG_PREV_CABINET,
    FLAG_RESERVE_PRESENT,
    IFOLD_CONTINUED_FROM_PREV,
    IFOLD_CONTINUED_PREV_AND_NEXT,
    IFOLD_CONTINUED_TO_NEXT,
    MAX_HEADER_RESERVE,
    CompressionType,
    dos_date_time,
)

FIXED_DATETIME = _dt.datetime(2011, 5, 13, 21, 11, 54)
BLOCK = 32768
MSZIP_HISTORY = 32768


@dataclass(frozen=True)
class FileSpec:
    """A file to store: its name, content, timestamp and attributes."""

    name: str
    data: bytes
    date_time: _dt.datetime = FIXED_DATETIME
    attributes: int = ATTR_ARCHIVE


@dataclass(frozen=True)
class FolderSpec:
    """Files stored back to back in one folder with one compression method.

    *compression*: ``"none"``, ``"mszip"``, ``"quantum"`` or ``"lzx"``
    (Quantum and LZX use small greedy encoders meant for decoder tests;
    *window_bits* gives their window, 10..21 and 15..21; *lzx_blocks* the
    LZX block kinds and sizes, cycled; *e8_filesize* turns on LZX's E8
    translation; *lzx_reach_back* makes an invalid LZX stream whose first match reads
    history never written).  *reserve* is this folder's reserve area (all folders of a
    cabinet must use the same length).
    """

    files: Sequence[FileSpec]
    compression: str = "none"
    reserve: bytes = b""
    window_bits: int = 16
    level: int = 9
    lzx_blocks: tuple[tuple[str, int], ...] = (("verbatim", 32768),)
    e8_filesize: int = 0
    lzx_reach_back: bool = False


def _type_compress(spec: FolderSpec) -> int:
    if spec.compression == "none":
        return CompressionType.NONE
    if spec.compression == "mszip":
        return CompressionType.MSZIP
    if spec.compression == "quantum":
        if not 10 <= spec.window_bits <= 21:
            raise ValueError("Quantum window bits must be 10..21")
        return CompressionType.QUANTUM | (4 << 4) | (spec.window_bits << 8)
    if spec.compression == "lzx":
        if not 15 <= spec.window_bits <= 21:
            raise ValueError("LZX window bits must be 15..21")
        return CompressionType.LZX | (spec.window_bits << 8)
    raise ValueError(f"unsupported compression {spec.compression!r} (none, mszip, quantum, lzx)")


def _compress(spec: FolderSpec, stream: bytes) -> list[tuple[bytes, int]]:
    """(compressed bytes, uncompressed size) for each 32 KiB block of *stream*."""
    chunks = [stream[i : i + BLOCK] for i in range(0, len(stream), BLOCK)]
    if spec.compression == "none":
        return [(chunk, len(chunk)) for chunk in chunks]
    if spec.compression == "mszip":
        out = []
        history = b""
        for chunk in chunks:
            if history:
                packer = zlib.compressobj(spec.level, zlib.DEFLATED, -15, zdict=history)
            else:
                packer = zlib.compressobj(spec.level, zlib.DEFLATED, -15)
            out.append((b"CK" + packer.compress(chunk) + packer.flush(), len(chunk)))
            history = (history + chunk)[-MSZIP_HISTORY:]
        return out
    if spec.compression == "quantum":
        from msitools.testing.writer.quantum_encoder import QuantumEncoder

        encoder = QuantumEncoder(spec.window_bits)
        return [(encoder.encode_frame(chunk), len(chunk)) for chunk in chunks]
    if spec.compression == "lzx":
        from msitools.testing.writer.lzx_encoder import LzxEncoder

        frames = LzxEncoder(spec.window_bits, blocks=spec.lzx_blocks, e8_filesize=spec.e8_filesize,
                            reach_back=spec.lzx_reach_back).encode(stream)
        if len(frames) != len(chunks):  # pragma: no cover - encoder invariant
            raise AssertionError("LZX encoder produced a wrong number of frames")
        return [(frame, len(chunk)) for frame, chunk in zip(frames, chunks)]
    raise ValueError(f"unsupported compression {spec.compression!r}")


@dataclass
class _Block:
    data: bytes
    cb_uncomp: int


@dataclass
class _File:
    spec: FileSpec
    offset: int
    i_folder: int


@dataclass
class _Segment:
    """One cabinet's part of a folder."""

    type_compress: int
    reserve: bytes
    blocks: list[_Block] = field(default_factory=list)
    files: list[_File] = field(default_factory=list)


@dataclass
class _Cabinet:
    segments: list[_Segment] = field(default_factory=list)
    used: int = 0


def _encode_name(name: str) -> tuple[bytes, int]:
    try:
        return name.encode("ascii"), 0
    except UnicodeEncodeError:
        return name.encode("utf-8"), ATTR_NAME_IS_UTF


def _serialize(
    cab: _Cabinet,
    *,
    set_id: int,
    index: int,
    prev: tuple[str, str] | None,
    nxt: tuple[str, str] | None,
    header_reserve: bytes,
    folder_reserve_size: int,
    data_reserve: bytes,
    checksums: bool,
    reserve_present: bool,
) -> bytes:
    if len(header_reserve) > MAX_HEADER_RESERVE:
        raise ValueError("header reserve is limited to 60000 bytes")
    if folder_reserve_size > 255 or len(data_reserve) > 255:
        raise ValueError("folder and data reserve areas are limited to 255 bytes")
    flags = 0
    extra = b""
    if reserve_present:
        flags |= FLAG_RESERVE_PRESENT
        extra += struct.pack("<HBB", len(header_reserve), folder_reserve_size, len(data_reserve))
        extra += header_reserve
    if prev:
        flags |= FLAG_PREV_CABINET
        extra += prev[0].encode("ascii") + b"\0" + prev[1].encode("ascii") + b"\0"
    if nxt:
        flags |= FLAG_NEXT_CABINET
        extra += nxt[0].encode("ascii") + b"\0" + nxt[1].encode("ascii") + b"\0"

    file_records = []
    for folder_index, segment in enumerate(cab.segments):
        for item in segment.files:
            raw, utf = _encode_name(item.spec.name)
            date, time = dos_date_time(item.spec.date_time)
            i_folder = item.i_folder if item.i_folder >= IFOLD_CONTINUED_FROM_PREV else folder_index
            file_records.append(
                struct.pack("<IIHHHH", len(item.spec.data), item.offset, i_folder, date, time,
                            item.spec.attributes | utf) + raw + b"\0"
            )
    header_size = 36 + len(extra)
    folders_size = len(cab.segments) * (8 + folder_reserve_size)
    coff_files = header_size + folders_size
    data_start = coff_files + sum(len(r) for r in file_records)

    folder_records = []
    data_parts = []
    offset = data_start
    for segment in cab.segments:
        reserve = segment.reserve
        if len(reserve) != folder_reserve_size:
            raise ValueError("every folder of a cabinet needs a reserve area of the same size")
        folder_records.append(struct.pack("<IHH", offset, len(segment.blocks), segment.type_compress) + reserve)
        for block in segment.blocks:
            if len(block.data) > 0xFFFF:
                raise ValueError(f"a data block of {len(block.data)} bytes does not fit in CFDATA.cbData")
            csum = block_checksum(len(block.data), block.cb_uncomp, block.data) if checksums else 0
            part = struct.pack("<IHH", csum, len(block.data), block.cb_uncomp) + data_reserve + block.data
            data_parts.append(part)
            offset += len(part)
    total = offset
    head = struct.pack("<4sIIIIIBBHHHHH", b"MSCF", 0, total, 0, coff_files, 0, 3, 1,
                       len(cab.segments), len(file_records), flags, set_id, index)
    return b"".join([head, extra, *folder_records, *file_records, *data_parts])


def _layout(spec: FolderSpec) -> tuple[bytes, list[_File]]:
    files = []
    offset = 0
    for item in spec.files:
        files.append(_File(item, offset, 0))
        offset += len(item.data)
    return b"".join(item.data for item in spec.files), files


def _plan(folders: Sequence[FolderSpec], budget: int | None, data_reserve_size: int) -> list[_Cabinet]:
    cabinets = [_Cabinet()]
    queue = list(folders)
    overhead = 8 + data_reserve_size
    while queue:
        spec = queue.pop(0)
        stream, files = _layout(spec)
        blocks = _compress(spec, stream)
        type_compress = _type_compress(spec)
        cab = cabinets[-1]
        size = sum(overhead + len(data) for data, _ in blocks)
        if budget is None or cab.used + size <= budget:
            cab.segments.append(_Segment(type_compress, spec.reserve, [_Block(d, u) for d, u in blocks], files))
            cab.used += size
            continue
        if cab.segments and budget - cab.used < overhead + 1:
            cabinets.append(_Cabinet())  # no room for even a fragment: start the next cabinet
            queue.insert(0, spec)
            continue
        # block k is the first that does not fit: close the folder after the
        # last file starting before that block's end, and queue the others.
        room = budget - cab.used
        k = 0
        while room >= overhead + len(blocks[k][0]):
            room -= overhead + len(blocks[k][0])
            k += 1
        k_end = min((k + 1) * BLOCK, len(stream))
        keep = [f for f in files if f.offset < k_end]
        rest = [f.spec for f in files if f not in keep]
        if rest:
            queue.insert(0, dataclasses.replace(spec, files=rest))
            spec = dataclasses.replace(spec, files=[f.spec for f in keep])
            stream, files = _layout(spec)
            blocks = _compress(spec, stream)
        _place_split(cabinets, spec, type_compress, files, blocks, budget, overhead)
    return cabinets


def _place_split(cabinets: list[_Cabinet], spec: FolderSpec, type_compress: int, files: list[_File],
                 blocks: list[tuple[bytes, int]], budget: int, overhead: int) -> None:
    """Place one folder's blocks, splitting blocks across as many cabinets as needed."""
    segments = [_Segment(type_compress, spec.reserve)]
    cabinets[-1].segments.append(segments[0])
    split_starts: list[int] = []  # uncompressed offset of each split block
    position = 0
    for data, uncomp in blocks:
        while cabinets[-1].used + overhead + len(data) > budget:
            room = budget - cabinets[-1].used - overhead
            if room < 1 or room >= len(data):
                room = max(1, min(room, len(data) - 1))
            segments[-1].blocks.append(_Block(data[:room], 0))
            cabinets[-1].used += overhead + room
            data = data[room:]
            split_starts.append(position)
            cabinets.append(_Cabinet())
            segments.append(_Segment(type_compress, spec.reserve))
            cabinets[-1].segments.append(segments[-1])
        segments[-1].blocks.append(_Block(data, uncomp))
        cabinets[-1].used += overhead + len(data)
        position += uncomp
    # list each file in the first segment and in every segment it continues into
    for item in files:
        end = item.offset + len(item.spec.data)
        for number, segment in enumerate(segments):
            starts_before = number == 0 or end > split_starts[number - 1]
            goes_on = number < len(split_starts) and end > split_starts[number]
            if not starts_before:
                break
            if number == 0:
                i_folder = IFOLD_CONTINUED_TO_NEXT if goes_on else 0
            else:
                i_folder = IFOLD_CONTINUED_PREV_AND_NEXT if goes_on else IFOLD_CONTINUED_FROM_PREV
            segment.files.append(_File(item.spec, item.offset, i_folder))


NameSource = Union[Sequence[str], Callable[[int], str], None]  # noqa: UP007 (a runtime alias: "|" needs Python 3.10 classes on both sides)


def build_cabinet_set(
    folders: Sequence[FolderSpec],
    *,
    max_data_per_cabinet: int | None,
    names: NameSource = None,
    disk_names: NameSource = None,
    set_id: int = 0x1234,
    header_reserve: bytes = b"",
    folder_reserve_size: int = 0,
    data_reserve: bytes = b"",
    checksums: bool = True,
) -> list[tuple[str, bytes]]:
    """Build one or more cabinets holding *folders*; returns ``[(name, bytes), ...]``.

    *max_data_per_cabinet* bounds the CFDATA bytes (headers included) of each
    cabinet; None puts everything in one cabinet.  *names*/*disk_names* give
    the cabinet and disk names (a list or ``index -> name``; defaults
    ``set1.cab``..., ``Disk 1``...).  A reserve area is written when any of
    *header_reserve*, *folder_reserve_size* or *data_reserve* is non-empty.
    """
    cabinets = _plan(folders, max_data_per_cabinet, len(data_reserve))

    def name_of(source: NameSource, index: int, default: str) -> str:
        if source is None:
            return default
        if callable(source):
            return source(index)
        return source[index]

    cab_names = [name_of(names, i, f"set{i + 1}.cab") for i in range(len(cabinets))]
    disks = [name_of(disk_names, i, f"Disk {i + 1}") for i in range(len(cabinets))]
    reserve_present = bool(header_reserve or folder_reserve_size or data_reserve)
    out = []
    for index, cab in enumerate(cabinets):
        prev = (cab_names[index - 1], disks[index - 1]) if index else None
        nxt = (cab_names[index + 1], disks[index + 1]) if index + 1 < len(cabinets) else None
        out.append((cab_names[index], _serialize(
            cab, set_id=set_id, index=index, prev=prev, nxt=nxt, header_reserve=header_reserve,
            folder_reserve_size=folder_reserve_size, data_reserve=data_reserve, checksums=checksums,
            reserve_present=reserve_present,
        )))
    return out


def build_cabinet(folders: Sequence[FolderSpec], **options) -> bytes:
    """One cabinet holding *folders* (options as :func:`build_cabinet_set`)."""
    ((_, data),) = build_cabinet_set(folders, max_data_per_cabinet=None, **options)
    return data


def write_cabinet_set(directory: str | os.PathLike[str], folders: Sequence[FolderSpec],
                      **options) -> list[str]:
    """Write :func:`build_cabinet_set`'s cabinets into *directory*; returns their paths."""
    paths = []
    for name, data in build_cabinet_set(folders, **options):
        path = os.path.join(os.fspath(directory), name)
        with open(path, "wb") as handle:
            handle.write(data)
        paths.append(path)
    return paths
