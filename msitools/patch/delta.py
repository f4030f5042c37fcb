"""Binary delta headers inside patch cabinets: PA19 (mspatcha) and PA30 (msdelta), FORMATS.md §5.

We decode headers only, far enough to state the new file's size, time and
checksum without applying the delta (applying needs the old file and
Microsoft's LZX-delta / msdelta engines).

* PA19: options, optional timestamp (POSIX seconds), new size (UVLI), new
  CRC32, then per old file its size (as a signed delta) and CRC32.
* PA30: target FILETIME, then a bit stream with file type, flags, target size
  and the target hash (normally MD5); there is no CRC32.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from msitools.errors import DeltaError

PA19_MAGIC = b"PA19"
PA30_MAGIC = b"PA30"
PA31_MAGIC = b"PA31"

OPT_EXTENDED = 0x80000000
OPT_NO_REBASE = 0x00040000
OPT_TIMESTAMP_PRESENT = 0x00800000  # stored meaning of PATCH_OPTION_NO_TIMESTAMP, inverted (Wine)

PA19_OPTION_NAMES = {
    0x1: "LZX_A", 0x2: "LZX_B", 0x4: "LZX_LARGE", 0x10000: "NO_BINDFIX", 0x20000: "NO_LOCKFIX",
    0x40000: "NO_REBASE", 0x80000: "FAIL_IF_SAME_FILE", 0x100000: "FAIL_IF_BIGGER", 0x200000: "NO_CHECKSUM",
    0x400000: "NO_RESTIMEFIX", 0x800000: "NO_TIMESTAMP", 0x1000000: "SIGNATURE_MD5",
    0x40000000: "INTERLEAVE_FILES", 0x80000000: "RESERVED1",
}
PA30_FILE_TYPES = {0x1: "raw", 0x2: "i386", 0x4: "ia64", 0x8: "amd64", 0x10: "cli4_i386", 0x20: "cli4_amd64",
                   0x40: "cli4_arm", 0x80: "cli4_arm64"}
HASH_ALGS = {0: None, 0x8003: "MD5", 0x8004: "SHA1", 0x800C: "SHA256"}

_UNIX_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_FILETIME_EPOCH = datetime(1601, 1, 1, tzinfo=timezone.utc)


@dataclass
class OldFileInfo:
    size: int
    crc32: int


@dataclass
class DeltaHeader:
    format: str  # "PA19" / "PA30" / "PA31"
    new_size: int | None = None
    new_time: datetime | None = None
    new_crc32: int | None = None
    new_hash: str | None = None  # hex (PA30)
    hash_algorithm: str | None = None
    options: list[str] = field(default_factory=list)
    file_type: list[str] = field(default_factory=list)
    old_files: list[OldFileInfo] = field(default_factory=list)
    issues: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "format": self.format,
            "new_size": self.new_size,
            "new_time": self.new_time.strftime("%Y-%m-%dT%H:%M:%SZ") if self.new_time else None,
            "new_crc32": f"{self.new_crc32:08x}" if self.new_crc32 is not None else None,
            "new_hash": self.new_hash,
            "hash_algorithm": self.hash_algorithm,
            "options": self.options,
            "file_type": self.file_type,
            "old_files": [{"size": o.size, "crc32": f"{o.crc32:08x}"} for o in self.old_files],
            "issues": self.issues,
        }


def is_delta(data: bytes) -> bool:
    return data[:4] in (PA19_MAGIC, PA30_MAGIC, PA31_MAGIC)


class _Bytes:
    def __init__(self, data: bytes, name: str):
        self.data = data
        self.pos = 0
        self.name = name

    def fail(self, what: str) -> DeltaError:
        return DeltaError(f"{self.name}: delta header truncated or malformed ({what} at offset {self.pos})")

    def take(self, n: int, what: str) -> bytes:
        if self.pos + n > len(self.data):
            raise self.fail(what)
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def u32(self, what: str) -> int:
        return struct.unpack("<I", self.take(4, what))[0]

    def u8(self, what: str) -> int:
        return self.take(1, what)[0]

    def uvli(self, what: str) -> int:
        value = shift = 0
        for _ in range(10):
            b = self.u8(what)
            value |= (b & 0x7F) << shift
            shift += 7
            if b & 0x80:
                return value
        raise self.fail(what)

    def svli(self, what: str) -> int:
        b = self.u8(what)
        negative = bool(b & 0x40)
        value = b & 0x3F
        shift = 6
        done = bool(b & 0x80)
        count = 1
        while not done:
            if count >= 10:
                raise self.fail(what)
            b = self.u8(what)
            value |= (b & 0x7F) << shift
            shift += 7
            done = bool(b & 0x80)
            count += 1
        return -value if negative else value


def parse_pa19(data: bytes, name: str = "delta") -> DeltaHeader:
    r = _Bytes(data, name)
    if r.take(4, "magic") != PA19_MAGIC:
        raise DeltaError(f"{name}: not a PA19 delta")
    head = DeltaHeader("PA19")
    options = r.u32("options")
    head.options = [n for bit, n in sorted(PA19_OPTION_NAMES.items()) if options & bit]
    if options & OPT_EXTENDED:
        r.u32("extended options")
    if options & OPT_TIMESTAMP_PRESENT:
        stamp = r.u32("timestamp")
        head.new_time = _UNIX_EPOCH + timedelta(seconds=stamp) if stamp else None
    if not options & OPT_NO_REBASE:
        r.uvli("rebase value")
    head.new_size = r.uvli("new file size")
    head.new_crc32 = r.u32("new file CRC32")
    # what follows describes the old files the delta applies to; decode it as far as it goes
    try:
        count = r.u8("old file count")
        for _ in range(count):
            delta = r.svli("old size delta")
            crc = r.u32("old file CRC32")
            head.old_files.append(OldFileInfo(head.new_size + delta, crc))
            for _ in range(r.u8("ignore range count")):
                r.svli("ignore offset")
                r.uvli("ignore length")
            for _ in range(r.u8("retain range count")):
                r.svli("retain old offset")
                r.svli("retain new offset")
                r.uvli("retain length")
    except DeltaError as exc:
        head.issues.append(f"old-file section not fully decoded: {exc.message.split(': ', 1)[-1]}")
    return head


class _Bits:
    """PA30 bit reader: bits LSB-first; the first 3 bits count padding bits at the end."""

    def __init__(self, data: bytes, name: str):
        self.data = data
        self.name = name
        self.bit = 0
        self.total = len(data) * 8

    def fail(self, what: str) -> DeltaError:
        return DeltaError(f"{self.name}: PA30 header truncated or malformed ({what})")

    def read(self, n: int, what: str) -> int:
        if self.bit + n > self.total:
            raise self.fail(what)
        value = 0
        for i in range(n):
            byte = self.data[(self.bit + i) >> 3]
            value |= ((byte >> ((self.bit + i) & 7)) & 1) << i
        self.bit += n
        return value

    def number(self, what: str, max_nibbles: int = 16) -> int:
        k = 0
        while self.read(1, what) == 0:
            k += 1
            if k >= max_nibbles:
                raise self.fail(what)
        return self.read(4 * (k + 1), what)

    def buffer(self, what: str) -> bytes:
        length = self.number(what)
        self.bit = (self.bit + 7) & ~7
        start = self.bit >> 3
        if start + length > len(self.data):
            raise self.fail(what)
        self.bit += length * 8
        return self.data[start:start + length]


def parse_pa30(data: bytes, name: str = "delta") -> DeltaHeader:
    magic = data[:4]
    if magic not in (PA30_MAGIC, PA31_MAGIC):
        raise DeltaError(f"{name}: not a PA30 delta")
    if len(data) < 12:
        raise DeltaError(f"{name}: PA30 header truncated")
    head = DeltaHeader(magic.decode())
    (filetime,) = struct.unpack_from("<Q", data, 4)
    if filetime:
        try:
            head.new_time = _FILETIME_EPOCH + timedelta(microseconds=filetime // 10)
        except OverflowError:
            head.issues.append(f"target time {filetime} out of range")
    bits = _Bits(data[12:], name)
    bits.read(3, "padding count")
    bits.number("file type set")
    file_type = bits.number("file type")
    head.file_type = [n for bit, n in sorted(PA30_FILE_TYPES.items()) if file_type & bit]
    bits.number("flags")
    head.new_size = bits.number("target size")
    alg = bits.number("hash algorithm", 8)
    head.hash_algorithm = HASH_ALGS.get(alg, f"0x{alg:x}")
    digest = bits.buffer("target hash")
    head.new_hash = digest.hex() if digest else None
    if magic == PA31_MAGIC:
        head.issues.append("PA31 layout assumed equal to PA30 for these fields")
    return head


def parse_delta(data: bytes, name: str = "delta") -> DeltaHeader:
    magic = data[:4]
    if magic == PA19_MAGIC:
        return parse_pa19(data, name)
    if magic in (PA30_MAGIC, PA31_MAGIC):
        return parse_pa30(data, name)
    raise DeltaError(f"{name}: not a delta (magic {magic!r})")
