"""The payload of a patch (.msp), walked once for every job.

The File rows come from the patch's transforms (merged in order,
:func:`~msitools.patch.msp.merge_file_rows`); the bytes from the patch's
embedded cabinets, whose members are named by File key, matched here
case-insensitively (PatchWiz upper-cases some).  Each member is a whole file,
a binary delta (PA19/PA30, header decoded) or an empty member that no File row
names (PatchWiz's ``filler``).  A file is named by its File row's FileName; a
patch that only updates a row does not carry it, and the name then comes from
the product (*base_names*), or from the PE image's ``OriginalFilename``, or,
failing both, is the File key (and :attr:`PayloadItem.name_source` says which).
"""
from __future__ import annotations

import os
from collections.abc import Iterator

from msitools.cab import CabinetMember
from msitools.db.directory import long_file_name
from msitools.errors import MsiToolsError
from msitools.findings import Finding, Level
from msitools.patch.delta import is_delta, parse_delta
from msitools.patch.msp import FileRowChange, Msp
from msitools.payload.items import (
    KIND_DELTA,
    KIND_EMPTY,
    KIND_FILE,
    NAME_BASE,
    NAME_FILE_TABLE,
    NAME_KEY,
    NAME_PE,
    PayloadItem,
)
from msitools.pe.image import read_pe_info

DELTA_HEAD = 64 * 1024  # bytes read ahead to recognise and decode a delta header
BYTES_UNREADABLE = "bytes unreadable"
NOT_IN_CABINET = "File row changed by the patch, but its bytes are not in the patch cabinet"


def _peek(chunks: Iterator[bytes], length: int) -> tuple[bytes, Iterator[bytes]]:
    """The first *length* bytes of *chunks* (fewer at the end), and all the chunks again."""
    taken: list[bytes] = []
    have = 0
    for chunk in chunks:
        taken.append(chunk)
        have += len(chunk)
        if have >= length:
            break
    head = b"".join(taken)[:length]

    def again() -> Iterator[bytes]:
        yield from taken
        yield from chunks

    return head, again()


class PatchPayload:
    """Iterate over a patch's payload; :attr:`findings` holds what could not be read (level error) and notes."""

    def __init__(self, msp: Msp, *, base_names: dict[str, str] | None = None, backend: str = "auto",
                 name_from_pe: bool = True, where: str | None = None):
        """Read the patch's File rows (raises when its transforms cannot be read); iterate for the payload.

        *where*: how findings name the patch (default: its file name).
        """
        self.msp = msp
        self.label = os.path.basename(msp.path)
        self.where = where or self.label
        self.base_names = base_names or {}
        self.backend = backend
        self.name_from_pe = name_from_pe
        self.rows, self.findings = msp.file_rows(self.where)
        self._lower = {k.lower(): k for k in self.rows}
        self._seen: set[str] = set()

    def __iter__(self) -> Iterator[PayloadItem]:
        for stream in self.msp.cabinet_streams():
            yield from self._cabinet(stream)
        for key, row in self.rows.items():
            if key not in self._seen:
                yield self._row_item(key, row, self.label, [], None, NOT_IN_CABINET)

    # -- naming ---------------------------------------------------------------------
    def _name(self, key: str, row: FileRowChange | None) -> tuple[str, str]:
        if row is not None and row.values.get("FileName"):
            return long_file_name(row.values["FileName"]), NAME_FILE_TABLE
        if key in self.base_names:
            return long_file_name(self.base_names[key]), NAME_BASE
        return key, NAME_KEY

    def _row_item(self, key: str, row: FileRowChange | None, source: str, found_in: list[str],
                  chunks: Iterator[bytes] | None, error: str | None = None) -> PayloadItem:
        name, name_source = self._name(key, row)
        return PayloadItem(name, source, chunks, error, key=key, row=row.values if row is not None else None,
                           name_source=name_source, found_in=found_in + ([name] if error is None else []))

    # -- cabinets -------------------------------------------------------------------
    def _cabinet(self, stream: str) -> Iterator[PayloadItem]:
        try:
            cab = self.msp.open_cabinet(stream)
        except MsiToolsError as exc:
            yield from self._unreadable(stream, exc.message)
            return
        with cab:
            try:
                for member, chunks in cab.iter_members(backend=self.backend):
                    yield self._member(stream, member, chunks)
            except MsiToolsError as exc:
                yield from self._unreadable(stream, exc.message)

    def _unreadable(self, stream: str, message: str) -> Iterator[PayloadItem]:
        """The cabinet cannot be read (further): every row not met yet may be in it."""
        self.findings.append(Finding(f"{self.where} > {stream}", message, Level.ERROR))
        for key, row in self.rows.items():
            if key not in self._seen:
                self._seen.add(key)
                yield self._row_item(key, row, f"{self.label} > {stream}", [stream], None,
                                     f"cabinet unreadable: {message}")

    def _member(self, stream: str, member: CabinetMember, chunks: Iterator[bytes]) -> PayloadItem:
        key = self._lower.get(member.name.lower(), member.name)
        row = self.rows.get(key)
        self._seen.add(key)
        item = self._row_item(key, row, f"{self.label} > {stream} > {member.name}", [stream], chunks)
        item.member, item.size, item.date_time = member, member.size, member.date_time
        if row is None:
            item.notes.append(Finding(item.source, "cabinet member with no File row in the patch's transforms",
                                      Level.INFO))
            if member.size == 0:
                item.kind = KIND_EMPTY  # PatchWiz's placeholder ("filler") in registry-only patches
                return item
        try:
            head, item.chunks = _peek(chunks, DELTA_HEAD)
        except MsiToolsError as exc:
            item.chunks, item.error = None, f"{BYTES_UNREADABLE}: {exc.message}"
            return item
        if is_delta(head):
            item.kind = KIND_DELTA
            try:
                item.delta = parse_delta(head, f"{stream} > {member.name}").to_dict()
            except MsiToolsError as exc:
                item.delta = {"error": exc.message}
        elif item.name_source == NAME_KEY and self.name_from_pe and head[:2] == b"MZ":
            self._name_from_pe(item)
        return item

    def _name_from_pe(self, item: PayloadItem) -> None:
        """A patch that only updates a File row does not carry its FileName: take the image's own."""
        limits = self.msp.pkg.limits
        try:
            spool = item.spool()
        except MsiToolsError as exc:
            item.error = f"{BYTES_UNREADABLE}: {exc.message}"
            return
        if spool.size > limits.pe_read_size:
            return
        try:
            info = read_pe_info(spool.read(limits.pe_read_size), item.name, limits)
        except MsiToolsError:
            return  # an unreadable image: the jobs that read it say so
        if info is not None and info.original_filename:
            item.name, item.name_source = info.original_filename, NAME_PE
            item.found_in[-1] = item.name


__all__ = ["BYTES_UNREADABLE", "KIND_DELTA", "KIND_EMPTY", "KIND_FILE", "NOT_IN_CABINET", "PatchPayload"]
