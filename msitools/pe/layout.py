"""Where things lie in a PE file: sections, the certificate table, the overlay, named resources.

Self-extracting packages keep their payload outside the code: appended after the last
section (the *overlay*: Microsoft SFX cabinets, SQL Server updates), in a resource
(IExpress: ``RT_RCDATA`` named ``CABINET``), or behind a section of their own (WiX Burn:
``.wixburn``).  :func:`read_layout` reads only the headers and the section table, with
every count and offset checked against the file's size; :func:`find_resource` follows
one path through the resource tree (type, name, first language), bounded by
:class:`~msitools.limits.Limits`.  Nothing here loads the image.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import BinaryIO

from msitools.errors import PeError
from msitools.limits import DEFAULT_LIMITS, Limits

RT_RCDATA = 10
MAX_SECTIONS = 96  # the PE format's own limit


@dataclass(frozen=True)
class Section:
    name: str
    virtual_address: int
    virtual_size: int
    raw_offset: int
    raw_size: int

    @property
    def raw_end(self) -> int:
        return self.raw_offset + self.raw_size


@dataclass
class PeLayout:
    """The parts of a PE file that containers use (offsets are file offsets)."""

    file_size: int
    machine: int
    sections: list[Section] = field(default_factory=list)
    resource_rva: int = 0
    resource_size: int = 0
    certificate_offset: int = 0  # the security directory holds a file offset, not an RVA
    certificate_size: int = 0

    @property
    def image_end(self) -> int:
        """Where the sections end: the overlay starts here."""
        return max((s.raw_end for s in self.sections if s.raw_size), default=0)

    @property
    def overlay(self) -> tuple[int, int]:
        """``(offset, size)`` of the bytes after the image, the certificate table left out when it is last."""
        start = self.image_end
        end = self.file_size
        if self.certificate_size and self.certificate_offset >= start and \
                self.certificate_offset + self.certificate_size >= end:
            end = self.certificate_offset
        return start, max(0, end - start)

    def section(self, name: str) -> Section | None:
        return next((s for s in self.sections if s.name == name), None)

    def rva_to_offset(self, rva: int) -> int | None:
        for s in self.sections:
            if s.virtual_address <= rva < s.virtual_address + max(s.virtual_size, s.raw_size):
                delta = rva - s.virtual_address
                return s.raw_offset + delta if delta < s.raw_size else None
        return None


def _read(fileobj: BinaryIO, offset: int, size: int, what: str, name: str) -> bytes:
    fileobj.seek(offset)
    data = fileobj.read(size)
    if len(data) != size:
        raise PeError(f"truncated PE file: {what} at offset {offset} needs {size} bytes", name)
    return data



def read_layout(fileobj: BinaryIO, file_size: int, name: str) -> PeLayout:
    """The section table and the directories containers use; PeError for what is not a sound PE file."""
    dos = _read(fileobj, 0, 64, "DOS header", name)
    if dos[:2] != b"MZ":
        raise PeError("not a PE file (no MZ header)", name)
    e_lfanew = struct.unpack_from("<I", dos, 0x3C)[0]
    if e_lfanew + 24 > file_size:
        raise PeError(f"the PE header offset {e_lfanew} lies past the end of the file", name)
    nt = _read(fileobj, e_lfanew, 24, "PE header", name)
    if nt[:4] != b"PE\0\0":
        raise PeError("not a PE file (no PE signature)", name)
    machine, count, _stamp, _symtab, _nsyms, optional_size, _chars = struct.unpack_from("<HHIIIHH", nt, 4)
    if count > MAX_SECTIONS:
        raise PeError(f"{count} sections (the format allows {MAX_SECTIONS})", name)
    optional = _read(fileobj, e_lfanew + 24, optional_size, "optional header", name) if optional_size else b""
    layout = PeLayout(file_size, machine)
    if len(optional) >= 2:
        magic = struct.unpack_from("<H", optional, 0)[0]
        directories_at = {0x10B: 96, 0x20B: 112}.get(magic)
        if directories_at is not None and len(optional) >= directories_at + 8 * 5:
            layout.resource_rva, layout.resource_size = struct.unpack_from("<II", optional, directories_at + 16)
            layout.certificate_offset, layout.certificate_size = struct.unpack_from("<II", optional,
                                                                                   directories_at + 32)
    table = _read(fileobj, e_lfanew + 24 + optional_size, 40 * count, "section table", name)
    for i in range(count):
        raw_name, vsize, rva, raw_size, raw_ptr = struct.unpack_from("<8sIIII", table, 40 * i)
        section = Section(raw_name.rstrip(b"\0").decode("latin-1"), rva, vsize, raw_ptr, raw_size)
        if raw_size and raw_ptr + raw_size > file_size:
            raise PeError(f"section {section.name!r} runs past the end of the file "
                          f"({raw_ptr + raw_size} > {file_size} bytes; truncated?)", name)
        layout.sections.append(section)
    return layout


def find_resource(fileobj: BinaryIO, layout: PeLayout, type_id: int, name_text: str, name: str,
                  limits: Limits = DEFAULT_LIMITS) -> tuple[int, int] | None:
    """``(file offset, size)`` of resource *type_id* / *name_text* (first language), or None."""
    if not layout.resource_rva or not layout.resource_size:
        return None
    base = layout.rva_to_offset(layout.resource_rva)
    if base is None:
        return None
    size = min(layout.resource_size, layout.file_size - base)

    def directory(offset: int) -> list[tuple[int | str, int]]:
        if offset < 0 or offset + 16 > size:
            raise PeError(f"resource directory at {offset} lies outside the resource section", name)
        head = _read(fileobj, base + offset, 16, "resource directory", name)
        named, ids = struct.unpack_from("<HH", head, 12)
        entries = named + ids
        limits.check("pe_resource_entries", entries, "resource directory entries", name)
        raw = _read(fileobj, base + offset + 16, 8 * entries, "resource entries", name)
        out: list[tuple[int | str, int]] = []
        for i in range(entries):
            ident, target = struct.unpack_from("<II", raw, 8 * i)
            key: int | str = ident
            if ident & 0x80000000:
                at = ident & 0x7FFFFFFF
                length = struct.unpack("<H", _read(fileobj, base + at, 2, "resource name", name))[0]
                key = _read(fileobj, base + at + 2, 2 * length, "resource name", name).decode("utf-16-le", "replace")
            out.append((key, target))
        return out

    def follow(entries: list[tuple[int | str, int]], want: int | str | None) -> int | None:
        for key, target in entries:
            if want is None or (key.upper() == str(want).upper() if isinstance(key, str) else key == want):
                return target
        return None

    level1 = follow(directory(0), type_id)
    if level1 is None or not level1 & 0x80000000:
        return None
    level2 = follow(directory(level1 & 0x7FFFFFFF), name_text)
    if level2 is None or not level2 & 0x80000000:
        return None
    leaf = follow(directory(level2 & 0x7FFFFFFF), None)
    if leaf is None or leaf & 0x80000000:
        return None
    rva, data_size = struct.unpack("<II", _read(fileobj, base + leaf, 8, "resource data entry", name))
    offset = layout.rva_to_offset(rva)
    if offset is None or offset + data_size > layout.file_size:
        raise PeError(f"resource {name_text!r} points outside the file", name)
    return offset, data_size
