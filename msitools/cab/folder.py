"""Folder streaming: CFDATA blocks of one (possibly merged) folder, checked, joined and decoded.

A folder's blocks are read one at a time from each cabinet that holds a part
of it; a block with cbUncomp = 0 is the first part of a block continued in
the next cabinet and is joined with that cabinet's first block (libmspack
``cabd_sys_read_block`` as description).  Each block is checksum-verified
(when asked), decoded by the folder's decoder, and checked against the
compression-ratio and total-output limits before it is handed on.
:class:`FolderState` serves the members' byte ranges from that block stream.
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from msitools.cab.cfdata import INPUT_MAX, DataBlock, read_data_block
from msitools.cab.header import CompressionType, FolderEntry
from msitools.cab.mszip import MszipDecoder
from msitools.errors import CabinetError, DecompressionError, LimitExceeded, MsiToolsError, UsageError
from msitools.limits import Limits

if TYPE_CHECKING:  # pragma: no cover
    from msitools.cab.reader import CabinetMember, CabinetSet, SetFolder

RATIO_FLOOR = 1 << 20  # the compression-ratio limit applies once a folder produced 1 MiB


class _StoredDecoder:
    """typeCompress 0: the block data is the output."""

    def decode(self, data: bytes, out_size: int) -> bytes:
        if len(data) != out_size:
            raise DecompressionError(f"stored block holds {len(data)} bytes, {out_size} declared")
        return data


def make_decoder(folder: FolderEntry):
    """A fresh decoder for *folder*'s compression method (has ``decode(data, out_size)``)."""
    kind = folder.compression
    if kind == CompressionType.NONE:
        return _StoredDecoder()
    if kind == CompressionType.MSZIP:
        return MszipDecoder()
    if kind == CompressionType.LZX:
        from msitools.cab.lzx import LzxDecoder  # imported on first use: most cabinets never need it

        return LzxDecoder(folder.window_bits)
    if kind == CompressionType.QUANTUM:
        from msitools.cab.quantum import QuantumDecoder

        return QuantumDecoder(folder.window_bits)
    raise DecompressionError(f"unknown compression type {kind} (typeCompress 0x{folder.type_compress:04x})")


class Budget:
    """Total decompressed output of one iteration, checked against the limit."""

    def __init__(self, limits: Limits, name: str):
        self.limits = limits
        self.name = name
        self.total = 0

    def add(self, count: int) -> None:
        self.total += count
        self.limits.check("decompressed_total", self.total, "decompressed cabinet data", self.name)


def join_blocks(folder: SetFolder, verify: bool, limits: Limits) -> Iterator[tuple[bytes, int, str, str]]:
    """(data, cbUncomp, where, cabinet) for each logical block, split blocks joined."""
    pending: list[DataBlock] = []
    count = 0
    last = len(folder.segments) - 1
    for seg_index, (cab, entry) in enumerate(folder.segments):
        offset = entry.coff_cab_start
        for index in range(entry.c_cf_data):
            block = read_data_block(cab._fileobj, base=cab._base, offset=offset,
                                    reserve_size=cab.header.cb_cf_data, cabinet=cab.name,
                                    folder=entry.index, index=index, cabinet_size=cab.header.cb_cabinet)
            offset = block.end
            if verify:
                block.verify()
            if pending and index != 0:
                raise CabinetError(
                    f"{pending[0].where()} continues in the next cabinet but is followed by more blocks",
                    pending[0].cabinet,
                )
            if block.cb_uncomp == 0:
                if index != entry.c_cf_data - 1:
                    raise CabinetError(
                        f"{block.where()} is a split block (cbUncomp 0) but is not the folder's last block",
                        cab.name,
                    )
                pending.append(block)
                continue
            if pending:
                parts = pending + [block]
                pending = []
                data = b"".join(p.data for p in parts)
                if len(data) > INPUT_MAX:
                    raise CabinetError(f"joined {parts[0].where()} holds {len(data)} bytes (at most {INPUT_MAX})",
                                       parts[0].cabinet)
                first = parts[0]
                where, name = f"{first.where()} (joined with {cab.name})", first.cabinet
            else:
                data, where, name = block.data, block.where(), block.cabinet
            count += 1
            limits.check("cab_blocks_per_folder", count, f"blocks in folder {folder.index}", name)
            yield data, block.cb_uncomp, where, name
        if pending and seg_index == last:
            nxt = cab.next_cabinet or "?"
            raise CabinetError(
                f"{pending[0].where()} continues in next cabinet {nxt!r}, which is not part of this set",
                cab.name,
            )


def decoded_blocks(cabset: CabinetSet, folder: SetFolder, verify: bool, budget: Budget) -> Iterator[bytes]:
    if folder.missing_prev:
        raise CabinetError(f"folder {folder.index}: {folder.missing_prev}", folder.cabinet.name)
    decoder = make_decoder(folder.entry)
    limits = cabset.limits
    consumed = produced = 0
    for data, out_size, where, name in join_blocks(folder, verify, limits):
        try:
            piece = decoder.decode(data, out_size)
        except DecompressionError as exc:
            raise type(exc)(f"{where}: {exc.message}", name) from exc
        consumed += len(data) + 8
        produced += len(piece)
        if produced > RATIO_FLOOR:
            limits.check("compression_ratio", produced // consumed, f"folder {folder.index}", name)
        budget.add(len(piece))
        yield piece


class FolderState:
    """Streaming position in one folder, shared by the members' chunk iterators."""

    def __init__(self, cabset: CabinetSet, folder: SetFolder, verify: bool, budget: Budget):
        self.cabset = cabset
        self.folder = folder
        self.verify = verify
        self.budget = budget
        self.current: object = None
        self.error: MsiToolsError | None = None
        self._blocks: Iterator[bytes] | None = None
        self._buf = b""
        self._buf_start = 0  # folder offset of _buf[0]

    def _next_block(self, member: CabinetMember) -> None:
        if self._blocks is None:
            self._blocks = decoded_blocks(self.cabset, self.folder, self.verify, self.budget)
        self._buf_start += len(self._buf)
        self._buf = b""
        try:
            self._buf = next(self._blocks)
        except StopIteration:
            raise CabinetError(
                f"member {member.name!r} needs bytes {member.offset}..{member.end} of folder "
                f"{self.folder.index}, but the folder's data ends at {self._buf_start}",
                self.folder.cabinet.name,
            ) from None

    def _failed_earlier(self, member: CabinetMember) -> MsiToolsError:
        err = self.error
        if isinstance(err, LimitExceeded) or not isinstance(err, CabinetError):
            return err  # type: ignore[return-value]
        return type(err)(
            f"member {member.name!r} not extracted: folder {self.folder.index} failed earlier: {err.message}",
            err.path,
        )

    def chunks(self, position: int, member: CabinetMember, token: object, skip: int = 0) -> Iterator[bytes]:
        problem = self.folder.problems.get(position)
        if problem:
            raise CabinetError(problem, member.cabinet)
        if self.error is not None:
            raise self._failed_earlier(member)
        if member.offset < self._buf_start:
            raise CabinetError(f"member {member.name!r} starts before data already streamed", member.cabinet)
        pos, end = member.offset + skip, member.end
        try:
            while pos < end:
                buf_end = self._buf_start + len(self._buf)
                if pos >= buf_end:
                    self._next_block(member)
                    continue
                lo = pos - self._buf_start
                hi = min(len(self._buf), end - self._buf_start)
                piece = self._buf[lo:hi]
                pos += len(piece)
                yield piece
                if self.current is not token:
                    raise UsageError(f"chunks of member {member.name!r} used after the iteration moved on")
        except UsageError:
            raise
        except MsiToolsError as exc:
            self.error = exc
            raise
