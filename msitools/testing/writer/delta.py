"""Binary-delta files for test fixtures: PA19 (mspatcha) and PA30 (msdelta) headers.

**The payloads are placeholders.**  No real LZX-DELTA or msdelta compression is
done here: the bytes after the header are a fixed marker, so these files cannot
be applied to anything.  They exist to test *header decoding* (new-file size,
CRC32, time, old-file sizes and CRCs, hash) in the patch inspector, and to sit
in patch cabinets where real deltas would be.

PA19 (FORMATS §5.1; Wine ``dlls/mspatcha/pa19.c`` ``read_header``)::

    "PA19"  u32 options  [u32 extended options  if options & 0x80000000]
    [u32 new-file time (POSIX seconds)          if options & 0x00800000 (stored inverted)]
    [UVLI rebase value                          if not options & 0x00040000]
    UVLI new size   u32 new CRC32   u8 old-file count (>= 1)
    per old file:  SVLI old size - new size   u32 old CRC32
                   u8 ignore-range count   (SVLI offset delta, UVLI length) * count
                   u8 retain-range count   (SVLI old-offset delta, SVLI new - old, UVLI length) * count
                   UVLI special-processing count (always 0 here)
                   UVLI compressed size
    per old file:  the compressed stream (here: placeholder bytes)
    u32 CRC fix-up so that CRC32 of the whole file is 0xFFFFFFFF

A *header extract* (what ``Patch.Header`` / ``MsiPatchHeaders.Header`` hold,
FORMATS §4.3 — an inference) is the same header without the streams, followed
by its own CRC fix-up.

VLIs are little-endian 7-bit groups whose *last* byte has bit 7 set; an SVLI
keeps the sign in bit 6 of its first byte and 6 magnitude bits there.

PA30 (FORMATS §5.2; smilingthax/msdelta-pa30-format): ``"PA30"``, u64 target
FILETIME, then an LSB-first bit stream: 3 bits of final-byte padding count,
numbers FileTypeSet, FileType, Flags, TargetSize, TargetHashAlgId, then the
buffers TargetHash, preprocess buffer and patch buffer (a buffer is a number
giving its byte length, then the bytes from the next byte boundary).  A number
is k zero bits and a one bit (k + 1 nibbles), then 4(k + 1) value bits.
"""
from __future__ import annotations

import hashlib
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

from msitools.errors import UsageError

__all__ = [
    "OPTION_EXTENDED",
    "OPTION_FAIL_IF_BIGGER",
    "OPTION_FAIL_IF_SAME_FILE",
    "OPTION_INTERLEAVE_FILES",
    "OPTION_LZX_A",
    "OPTION_LZX_B",
    "OPTION_LZX_LARGE",
    "OPTION_NO_BINDFIX",
    "OPTION_NO_CHECKSUM",
    "OPTION_NO_LOCKFIX",
    "OPTION_NO_REBASE",
    "OPTION_NO_RESTIMEFIX",
    "OPTION_NO_TIMESTAMP",
    "OPTION_SIGNATURE_MD5",
    "PA19_MAGIC",
    "PA30_MAGIC",
    "PLACEHOLDER_PAYLOAD",
    "BitWriter",
    "PA19Delta",
    "PA19Source",
    "PA30Delta",
    "crc_fixup",
    "encode_svli",
    "encode_uvli",
    "posix_to_filetime",
    "with_crc_fixup",
]

PA19_MAGIC = b"PA19"
PA30_MAGIC = b"PA30"
PLACEHOLDER_PAYLOAD = b"msitools placeholder delta payload (not LZX; cannot be applied)"

# PATCH_OPTION_* (wine include/patchapi.h)
OPTION_LZX_A = 0x00000001
OPTION_LZX_B = 0x00000002
OPTION_LZX_LARGE = 0x00000004
OPTION_NO_BINDFIX = 0x00010000
OPTION_NO_LOCKFIX = 0x00020000
OPTION_NO_REBASE = 0x00040000
OPTION_FAIL_IF_SAME_FILE = 0x00080000
OPTION_FAIL_IF_BIGGER = 0x00100000
OPTION_NO_CHECKSUM = 0x00200000
OPTION_NO_RESTIMEFIX = 0x00400000
OPTION_NO_TIMESTAMP = 0x00800000   # stored inverted: set = a timestamp field is present
OPTION_SIGNATURE_MD5 = 0x01000000
OPTION_INTERLEAVE_FILES = 0x40000000
OPTION_EXTENDED = 0x80000000       # PATCH_OPTION_RESERVED1: an extended-options dword follows

FILETIME_UNIX_EPOCH_SECONDS = 11644473600
MAX_VLI_BYTES = 9
CALG_MD5 = 0x8003


# ------------------------------------------------------------------------------------------------
# primitives


def _seven_bit_groups(value: int, out: bytearray) -> bytearray:
    """Append *value* in 7-bit groups, least significant first; the last byte gets bit 7 set."""
    while True:
        group = value & 0x7F
        value >>= 7
        if not value:
            out.append(group | 0x80)
            return out
        out.append(group)


def encode_uvli(value: int) -> bytes:
    """Unsigned PA19 VLI: 7-bit groups, least significant first, last byte has bit 7 set."""
    if not isinstance(value, int) or value < 0:
        raise UsageError(f"a UVLI holds a non-negative integer, not {value!r}")
    out = _seven_bit_groups(value, bytearray())
    if len(out) > MAX_VLI_BYTES:
        raise UsageError(f"UVLI value needs {len(out)} bytes (at most {MAX_VLI_BYTES})")
    return bytes(out)


def encode_svli(value: int) -> bytes:
    """Signed PA19 VLI: first byte = terminator bit 7, sign bit 6, low 6 magnitude bits;
    later bytes carry 7 magnitude bits each."""
    if not isinstance(value, int):
        raise UsageError(f"an SVLI holds an integer, not {value!r}")
    sign = 0x40 if value < 0 else 0
    magnitude = -value if value < 0 else value
    first = (magnitude & 0x3F) | sign
    magnitude >>= 6
    if not magnitude:
        return bytes([first | 0x80])
    out = _seven_bit_groups(magnitude, bytearray([first]))
    if len(out) > MAX_VLI_BYTES:
        raise UsageError(f"SVLI value needs {len(out)} bytes (at most {MAX_VLI_BYTES})")
    return bytes(out)


def crc_fixup(data: bytes) -> bytes:
    """The 4 bytes that, appended to *data*, make ``zlib.crc32`` of the result 0xFFFFFFFF.

    CRC-32 is linear: after *data* the register (before the final inversion) is
    ``crc32(data) ^ 0xFFFFFFFF``; feeding those 4 bytes (little-endian) clears it
    to 0, and the final inversion gives 0xFFFFFFFF.
    """
    return struct.pack("<I", zlib.crc32(data) ^ 0xFFFFFFFF)


def with_crc_fixup(data: bytes) -> bytes:
    return bytes(data) + crc_fixup(data)


def posix_to_filetime(seconds: int) -> int:
    """POSIX seconds -> FILETIME ticks (what Wine's posix_time_to_file_time does)."""
    return (seconds + FILETIME_UNIX_EPOCH_SECONDS) * 10_000_000


def _u32(value: int, what: str) -> bytes:
    if not isinstance(value, int) or not 0 <= value <= 0xFFFFFFFF:
        raise UsageError(f"{what} {value!r} does not fit 32 bits")
    return struct.pack("<I", value)


# ------------------------------------------------------------------------------------------------
# PA19


@dataclass(frozen=True)
class PA19Source:
    """One old file the delta can be applied to.

    *ignore_ranges* are ``(old offset, length)``; *retain_ranges* are
    ``(old offset, new offset, length)``; both absolute and sorted.  The CRC
    given must already treat those ranges as zero (see :meth:`from_data`).
    *payload* stands in for the LZX stream.
    """

    size: int
    crc32: int
    payload: bytes = PLACEHOLDER_PAYLOAD
    ignore_ranges: tuple[tuple[int, int], ...] = ()
    retain_ranges: tuple[tuple[int, int, int], ...] = ()

    @classmethod
    def from_data(cls, data: bytes, payload: bytes = PLACEHOLDER_PAYLOAD,
                  ignore_ranges: Sequence[tuple] = (), retain_ranges: Sequence[tuple] = ()) -> PA19Source:
        """Size and CRC32 of an old file, with ignore- and retain-ranges zero-filled."""
        buf = bytearray(data)
        for offset, length in ignore_ranges:
            buf[offset:offset + length] = bytes(len(buf[offset:offset + length]))
        for old_offset, _new, length in retain_ranges:
            buf[old_offset:old_offset + length] = bytes(len(buf[old_offset:old_offset + length]))
        return cls(len(data), zlib.crc32(bytes(buf)), payload,
                   tuple(tuple(r) for r in ignore_ranges), tuple(tuple(r) for r in retain_ranges))


@dataclass(frozen=True)
class PA19Delta:
    """A PA19 delta (header + placeholder streams + CRC fix-up).

    *timestamp* (POSIX seconds) is written when given, which sets the
    0x00800000 option bit (Wine: that bit means "a timestamp is stored").
    *rebase* is written when given, which clears NO_REBASE (0x00040000);
    otherwise NO_REBASE is set.  *extended_options* adds the dword that
    follows when 0x80000000 is set.
    """

    new_size: int
    new_crc32: int
    sources: tuple[PA19Source, ...]
    options: int = OPTION_LZX_B | OPTION_NO_BINDFIX | OPTION_NO_LOCKFIX | OPTION_NO_RESTIMEFIX
    timestamp: int | None = None
    rebase: int | None = None
    extended_options: int | None = None

    @classmethod
    def between(cls, old: bytes, new: bytes, **options) -> PA19Delta:
        """A delta from one old file to *new* (placeholder payload)."""
        return cls(len(new), zlib.crc32(new), (PA19Source.from_data(old),), **options)

    @property
    def stored_options(self) -> int:
        """The options dword as written: timestamp/rebase/extended bits derived from the fields."""
        opts = self.options & ~(OPTION_NO_TIMESTAMP | OPTION_NO_REBASE | OPTION_EXTENDED)
        if self.timestamp is not None:
            opts |= OPTION_NO_TIMESTAMP
        if self.rebase is None:
            opts |= OPTION_NO_REBASE
        if self.extended_options is not None:
            opts |= OPTION_EXTENDED
        return opts

    def header(self) -> bytes:
        """Magic through the last old file's compressed size (no streams, no fix-up)."""
        if not 1 <= len(self.sources) <= 255:
            raise UsageError(f"a PA19 delta has 1..255 old files, not {len(self.sources)}")
        if self.options & OPTION_INTERLEAVE_FILES:
            raise UsageError("PATCH_OPTION_INTERLEAVE_FILES headers are not written by this fixture builder")
        opts = self.stored_options
        out = bytearray(PA19_MAGIC)
        out += _u32(opts, "options")
        if self.extended_options is not None:
            out += _u32(self.extended_options, "extended options")
        if self.timestamp is not None:
            out += _u32(self.timestamp, "timestamp")
        if self.rebase is not None:
            out += encode_uvli(self.rebase)
        out += encode_uvli(self.new_size)
        out += _u32(self.new_crc32, "new-file CRC32")
        out.append(len(self.sources))
        for source in self.sources:
            if source.size < 0:
                raise UsageError(f"old-file size {source.size} is negative")
            out += encode_svli(source.size - self.new_size)
            out += _u32(source.crc32, "old-file CRC32")
            out += self._ranges(source)
            out += encode_uvli(0)                      # no special (rift) processing
            out += encode_uvli(len(source.payload))    # compressed size
        return bytes(out)

    @staticmethod
    def _ranges(source: PA19Source) -> bytes:
        if len(source.ignore_ranges) > 255 or len(source.retain_ranges) > 255:
            raise UsageError("at most 255 ignore and 255 retain ranges per old file")
        out = bytearray([len(source.ignore_ranges)])
        previous_end = 0
        for offset, length in source.ignore_ranges:
            out += encode_svli(offset - previous_end)
            out += encode_uvli(length)
            previous_end = offset + length
        out.append(len(source.retain_ranges))
        previous_end = 0
        for old_offset, new_offset, length in source.retain_ranges:
            out += encode_svli(old_offset - previous_end)
            out += encode_svli(new_offset - old_offset)
            out += encode_uvli(length)
            previous_end = old_offset + length
        return bytes(out)

    def to_bytes(self) -> bytes:
        """The whole delta file: header, placeholder streams, CRC fix-up."""
        body = self.header() + b"".join(s.payload for s in self.sources)
        return with_crc_fixup(body)

    def header_extract(self) -> bytes:
        """Header-only extract (``Patch.Header`` content): header + its own CRC fix-up."""
        return with_crc_fixup(self.header())

    def describe(self) -> dict:
        """The facts a header decoder must find (for fixture descriptions)."""
        return {
            "format": "PA19",
            "options": self.stored_options,
            "extended_options": self.extended_options,
            "timestamp": self.timestamp,
            "rebase": self.rebase,
            "new_size": self.new_size,
            "new_crc32": self.new_crc32,
            "old_files": [{"size": s.size, "crc32": s.crc32, "ignore_ranges": [list(r) for r in s.ignore_ranges],
                           "retain_ranges": [list(r) for r in s.retain_ranges],
                           "compressed_size": len(s.payload)} for s in self.sources],
            "payload_is_placeholder": True,
        }


# ------------------------------------------------------------------------------------------------
# PA30


class BitWriter:
    """LSB-first bit stream as msdelta reads it; starts with a 3-bit padding count."""

    def __init__(self) -> None:
        self._bytes = bytearray()
        self._acc = 0
        self._nbits = 0
        self.write_bits(0, 3)  # patched below by to_bytes()

    def write_bits(self, value: int, count: int) -> None:
        if value < 0 or value >> count:
            raise UsageError(f"{value} does not fit {count} bits")
        self._acc |= value << self._nbits
        self._nbits += count
        while self._nbits >= 8:
            self._bytes.append(self._acc & 0xFF)
            self._acc >>= 8
            self._nbits -= 8

    def write_number(self, value: int, max_nibbles: int = 16) -> None:
        """k zero bits then a one bit (k + 1 nibbles), then the nibbles LSB-first."""
        if not isinstance(value, int) or value < 0:
            raise UsageError(f"a PA30 number is non-negative, not {value!r}")
        nibbles = max(1, (value.bit_length() + 3) // 4)
        if nibbles > max_nibbles:
            raise UsageError(f"{value} needs {nibbles} nibbles (at most {max_nibbles})")
        self.write_bits(1 << (nibbles - 1), nibbles)
        self.write_bits(value, 4 * nibbles)

    def align(self) -> None:
        if self._nbits:
            self._bytes.append(self._acc & 0xFF)
            self._acc = 0
            self._nbits = 0

    def write_buffer(self, data: bytes) -> None:
        """Length as a number, then the raw bytes from the next byte boundary."""
        self.write_number(len(data))
        self.align()
        self._bytes += data

    def to_bytes(self) -> bytes:
        pad = (8 - self._nbits) % 8
        self.align()
        out = bytearray(self._bytes)
        if pad:  # only when the stream ends inside a byte of bits
            out[0] = (out[0] & ~0x07) | pad
        return bytes(out)


@dataclass(frozen=True)
class PA30Delta:
    """A PA30 (msdelta) file with a real header and a placeholder patch buffer."""

    target_size: int
    target_file_time: int                 # FILETIME ticks
    target_hash: bytes = b""
    target_hash_alg: int = CALG_MD5
    file_type_set: int = 0x0F             # DELTA_FILE_TYPE_SET_EXECUTABLES_1
    file_type: int = 0x01                 # DELTA_FILE_TYPE_RAW
    flags: int = 0
    preprocess: bytes = b""
    payload: bytes = PLACEHOLDER_PAYLOAD

    @classmethod
    def for_target(cls, new: bytes, target_file_time: int, **fields) -> PA30Delta:
        """Size and MD5 of the new file."""
        return cls(len(new), target_file_time, hashlib.md5(new).digest(), **fields)

    def to_bytes(self) -> bytes:
        if not 0 <= self.target_file_time < 1 << 64:
            raise UsageError(f"FILETIME {self.target_file_time!r} does not fit 64 bits")
        bits = BitWriter()
        bits.write_number(self.file_type_set)
        bits.write_number(self.file_type)
        bits.write_number(self.flags)
        bits.write_number(self.target_size)
        bits.write_number(self.target_hash_alg, max_nibbles=8)
        bits.write_buffer(self.target_hash)
        bits.write_buffer(self.preprocess)
        bits.write_buffer(self.payload)
        return PA30_MAGIC + struct.pack("<Q", self.target_file_time) + bits.to_bytes()

    def describe(self) -> dict:
        return {
            "format": "PA30",
            "target_size": self.target_size,
            "target_file_time": self.target_file_time,
            "file_type_set": self.file_type_set,
            "file_type": self.file_type,
            "flags": self.flags,
            "target_hash_alg": self.target_hash_alg,
            "target_hash": self.target_hash.hex(),
            "payload_is_placeholder": True,
        }
