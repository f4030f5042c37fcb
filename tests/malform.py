"""Byte-level surgery on compound files, to make malformed packages for tests.

Independent of msitools' reader: parses the CFB header, FAT and directory by
hand (MS-CFB v3 with 512-byte sectors, header DIFAT only), so tests can break
exactly one thing in an otherwise valid file.
"""
from __future__ import annotations

import struct

SECTOR = 512
ENTRY = 128


class Cfb:
    def __init__(self, data: bytes):
        self.data = bytearray(data)
        hdr = self.data[:512]
        assert hdr[:8] == b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1"
        self.first_dir = struct.unpack_from("<I", hdr, 0x30)[0]
        self.first_minifat = struct.unpack_from("<I", hdr, 0x3C)[0]
        nfat = struct.unpack_from("<I", hdr, 0x2C)[0]
        self.fat_sectors = list(struct.unpack_from("<109I", hdr, 0x4C))[:nfat]

    def sector_offset(self, sect: int) -> int:
        return (sect + 1) * SECTOR

    def fat_entry_offset(self, sect: int) -> int:
        per = SECTOR // 4
        return self.sector_offset(self.fat_sectors[sect // per]) + 4 * (sect % per)

    def fat(self, sect: int) -> int:
        return struct.unpack_from("<I", self.data, self.fat_entry_offset(sect))[0]

    def set_fat(self, sect: int, value: int) -> None:
        struct.pack_into("<I", self.data, self.fat_entry_offset(sect), value)

    def chain(self, start: int) -> "list[int]":
        out, sect = [], start
        while sect < 0xFFFFFFFA and len(out) < 100000:
            out.append(sect)
            sect = self.fat(sect)
        return out

    def minifat_entry_offset(self, msect: int) -> int:
        per = SECTOR // 4
        sectors = self.chain(self.first_minifat)
        return self.sector_offset(sectors[msect // per]) + 4 * (msect % per)

    def set_minifat(self, msect: int, value: int) -> None:
        struct.pack_into("<I", self.data, self.minifat_entry_offset(msect), value)

    def entries(self):
        """(offset of the 128-byte entry, raw name str, type, start, size) for every directory entry."""
        for sect in self.chain(self.first_dir):
            base = self.sector_offset(sect)
            for i in range(SECTOR // ENTRY):
                off = base + i * ENTRY
                raw = bytes(self.data[off:off + 64])
                nlen = struct.unpack_from("<H", self.data, off + 64)[0]
                etype = self.data[off + 66]
                if etype == 0:
                    continue
                name = raw[:max(0, nlen - 2)].decode("utf-16-le", "replace")
                start, size = struct.unpack_from("<II", self.data, off + 0x74)
                yield off, name, etype, start, size

    def entry(self, name: str):
        for item in self.entries():
            if item[1] == name:
                return item
        raise KeyError(name)

    def set_entry_size(self, name: str, size: int) -> None:
        off = self.entry(name)[0]
        struct.pack_into("<I", self.data, off + 0x78, size)

    def set_entry_start(self, name: str, start: int) -> None:
        off = self.entry(name)[0]
        struct.pack_into("<I", self.data, off + 0x74, start)

    def rename_entry(self, name: str, new_name: str) -> None:
        """Rename in place (same length keeps the red-black tree order valid enough for readers)."""
        off = self.entry(name)[0]
        raw = new_name.encode("utf-16-le")
        assert len(raw) <= 62
        self.data[off:off + 64] = raw + b"\x00" * (64 - len(raw))
        struct.pack_into("<H", self.data, off + 64, len(raw) + 2)

    def bytes(self) -> bytes:
        return bytes(self.data)


def minifat(cfb: Cfb, msect: int) -> int:
    """The mini FAT entry of mini sector *msect*."""
    return struct.unpack_from("<I", cfb.data, cfb.minifat_entry_offset(msect))[0]


def stream_byte_offset(cfb: Cfb, name: str, pos: int = 0) -> int:
    """File offset of byte *pos* of the stream called *name* (mini stream or regular sectors)."""
    _off, _name, _etype, start, size = cfb.entry(name)
    assert 0 <= pos < size, (name, pos, size)
    if size >= 4096:
        return cfb.sector_offset(cfb.chain(start)[pos // SECTOR]) + pos % SECTOR
    msect = start
    for _ in range(pos // 64):
        msect = minifat(cfb, msect)
    mini_pos = msect * 64 + pos % 64
    root_start = next(item[3] for item in cfb.entries() if item[2] == 5)
    return cfb.sector_offset(cfb.chain(root_start)[mini_pos // SECTOR]) + mini_pos % SECTOR
