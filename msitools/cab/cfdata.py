"""CFDATA: one compressed data block of a folder (MS-CAB §2.4; FORMATS.md §6.1).

Layout: u32 csum, u16 cbData (compressed bytes), u16 cbUncomp (uncompressed
bytes, at most 32768; 0 = the block continues as the first block of the next
cabinet in the set), then cbCFData reserve bytes, then cbData data bytes.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import BinaryIO

from msitools.cab.checksum import block_checksum
from msitools.errors import CabinetError, ChecksumError, TruncatedCabinetError

_CFDATA = struct.Struct(
    "<I"  # csum (0 = none)
    "H"  # cbData: compressed size
    "H"  # cbUncomp: uncompressed size, 0 for the first part of a split block
)
CFDATA_SIZE = _CFDATA.size
BLOCK_MAX = 32768  # largest cbUncomp
INPUT_MAX = BLOCK_MAX + 6144  # largest cbData libmspack accepts (LZX worst case growth)


@dataclass(frozen=True)
class DataBlock:
    """One CFDATA block as stored in one cabinet."""

    cabinet: str
    folder: int  # folder index in that cabinet
    index: int  # block index within that cabinet's part of the folder
    offset: int  # offset of the CFDATA header in the cabinet
    csum: int
    cb_data: int
    cb_uncomp: int
    reserve: bytes = field(repr=False)
    data: bytes = field(repr=False)

    @property
    def end(self) -> int:
        return self.offset + CFDATA_SIZE + len(self.reserve) + self.cb_data

    @property
    def is_split(self) -> bool:
        """True for the first part of a block continued in the next cabinet."""
        return self.cb_uncomp == 0

    def where(self) -> str:
        return f"data block {self.index} of folder {self.folder} (offset {self.offset})"

    def verify(self) -> None:
        """Raise :class:`ChecksumError` if a stored checksum does not match."""
        if self.csum:
            computed = block_checksum(self.cb_data, self.cb_uncomp, self.data)
            if computed != self.csum:
                raise ChecksumError(
                    f"checksum mismatch in {self.where()}: stored 0x{self.csum:08x}, "
                    f"computed 0x{computed:08x}",
                    self.cabinet,
                )


def _present(fileobj: BinaryIO, base: int) -> int | None:
    """How many bytes of the cabinet at *base* the file holds (a truncated stream says so itself)."""
    present = getattr(fileobj, "present", None)
    try:
        end = present if isinstance(present, int) else fileobj.seek(0, 2)
    except (OSError, ValueError):
        return None
    return max(0, end - base)


def _cut_off(fileobj: BinaryIO, base: int, size: int, where: str, what: str, cabinet: str) -> CabinetError:
    present = _present(fileobj, base)
    if present is not None and size and present < size:
        label = cabinet.rsplit(" > ", 1)[-1].replace("\\", "/").rsplit("/", 1)[-1]
        return TruncatedCabinetError(f"cabinet {label!r} truncated: {present:,} of {size:,} bytes present "
                                     f"({where} {what}; the download may be incomplete)", cabinet)
    return TruncatedCabinetError(f"truncated cabinet: {where} {what}", cabinet)


def read_data_block(
    fileobj: BinaryIO, *, base: int, offset: int, reserve_size: int, cabinet: str, folder: int, index: int,
    cabinet_size: int = 0,
) -> DataBlock:
    """Read the CFDATA block whose header is at *offset* (relative to *base*).

    *cabinet_size*: the size the cabinet's header declares, to say how much of
    a truncated cabinet is present.

    Raises:
        TruncatedCabinetError: the block is cut off by the end of the file.
        CabinetError: the block's sizes are impossible.
    """
    where = f"data block {index} of folder {folder} (offset {offset})"
    try:
        fileobj.seek(base + offset)
        head = fileobj.read(CFDATA_SIZE + reserve_size)
    except (OSError, ValueError) as exc:
        raise CabinetError(f"cannot read {where}: {exc}", cabinet) from exc
    if len(head) != CFDATA_SIZE + reserve_size:
        raise _cut_off(fileobj, base, cabinet_size, where, "header is cut off", cabinet)
    csum, cb_data, cb_uncomp = _CFDATA.unpack_from(head)
    if cb_uncomp > BLOCK_MAX:
        raise CabinetError(f"{where} claims {cb_uncomp} uncompressed bytes (at most {BLOCK_MAX})", cabinet)
    if cb_data > INPUT_MAX:
        raise CabinetError(f"{where} claims {cb_data} compressed bytes (at most {INPUT_MAX})", cabinet)
    try:
        data = fileobj.read(cb_data)
    except (OSError, ValueError) as exc:
        raise CabinetError(f"cannot read {where}: {exc}", cabinet) from exc
    if len(data) != cb_data:
        raise _cut_off(fileobj, base, cabinet_size, where, f"needs {cb_data} data bytes, only {len(data)} present",
                       cabinet)
    return DataBlock(cabinet, folder, index, offset, csum, cb_data, cb_uncomp, bytes(head[CFDATA_SIZE:]), data)
