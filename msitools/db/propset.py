"""OLE property sets (the byte format of ``\\x05SummaryInformation``), FORMATS §2.1.

Header: byte order 0xFFFE, format, OS version, CLSID, section count, then
(FMTID, offset) per section.  A section: size, property count, (id, offset)
pairs relative to the section, then typed values (VT tag + payload).
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from msitools.base import codepage as cp
from msitools.errors import SummaryInfoError
from msitools.limits import DEFAULT_LIMITS, Limits

VT_EMPTY = 0
VT_NULL = 1
VT_I2 = 2
VT_I4 = 3
VT_BOOL = 11
VT_UI2 = 18
VT_UI4 = 19
VT_LPSTR = 30
VT_LPWSTR = 31
VT_FILETIME = 64

FMTID_SUMMARY = bytes.fromhex("E0859FF2F94F6810AB9108002B27B3D9")
PID_CODEPAGE = 1

_EPOCH_1601 = datetime(1601, 1, 1, tzinfo=timezone.utc)


def filetime_to_datetime(value: int) -> datetime | None:
    """FILETIME (100 ns ticks since 1601, UTC) -> aware datetime; None for 0 or out of range."""
    if not value:
        return None
    try:
        return _EPOCH_1601 + timedelta(microseconds=value // 10)
    except OverflowError:
        return None


def datetime_to_filetime(value: datetime) -> int:
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    delta = value - _EPOCH_1601
    return (delta.days * 86400 + delta.seconds) * 10_000_000 + delta.microseconds * 10


@dataclass
class PropertySet:
    """Decoded properties of the first section: ``values[pid]`` and ``types[pid]``."""

    fmtid: bytes
    values: dict = field(default_factory=dict)
    types: dict = field(default_factory=dict)
    codepage: int = 0
    issues: list = field(default_factory=list)


def parse_property_set(data: bytes, path=None, limits: Limits = DEFAULT_LIMITS,
                       what: str = "summary information") -> PropertySet:
    def fail(message: str) -> SummaryInfoError:
        return SummaryInfoError(f"{what}: {message}", path)

    if len(data) < 48:
        raise fail(f"stream is too short ({len(data)} bytes)")
    byte_order, _fmt, _os_ver, _os_kind = struct.unpack_from("<HHHH", data, 0)
    if byte_order != 0xFFFE:
        raise fail(f"bad byte-order mark {byte_order:#06x}")
    (nsections,) = struct.unpack_from("<I", data, 24)
    if nsections < 1:
        raise fail("no property section")
    fmtid = bytes(data[28:44])
    (section_offset,) = struct.unpack_from("<I", data, 44)
    if section_offset + 8 > len(data):
        raise fail(f"section offset {section_offset} is past the end of the stream")
    _section_size, count = struct.unpack_from("<II", data, section_offset)
    limits.check("summary_properties", count, what, path)
    if section_offset + 8 + 8 * count > len(data):
        raise fail(f"property table ({count} entries) runs past the end of the stream")
    result = PropertySet(fmtid=fmtid)
    entries = [struct.unpack_from("<II", data, section_offset + 8 + 8 * i) for i in range(count)]
    # the codepage decides how strings read; find it first
    raw_values: dict[int, tuple[int, int]] = {}
    for pid, rel in entries:
        off = section_offset + rel
        if off + 4 > len(data):
            raise fail(f"property {pid} offset {rel} is past the end of the stream")
        (vt,) = struct.unpack_from("<I", data, off)
        raw_values[pid] = (vt & 0xFFFF, off + 4)
    codepage = 0
    if PID_CODEPAGE in raw_values:
        vt, off = raw_values[PID_CODEPAGE]
        if vt == VT_I2 and off + 2 <= len(data):
            codepage = struct.unpack_from("<H", data, off)[0]  # stored signed; 65001 = -535
        elif vt in (VT_I4, VT_UI4) and off + 4 <= len(data):
            codepage = struct.unpack_from("<I", data, off)[0] & 0xFFFF
    result.codepage = codepage
    for pid, (vt, off) in raw_values.items():
        try:
            value = _read_value(data, vt, off, codepage)
        except (struct.error, IndexError):
            raise fail(f"property {pid} (type {vt}) runs past the end of the stream") from None
        except _Unsupported:
            result.issues.append(f"property {pid} has unsupported type {vt}")
            continue
        if pid == PID_CODEPAGE:
            value = codepage
        result.values[pid] = value
        result.types[pid] = vt
    return result


class _Unsupported(Exception):
    pass


def _read_value(data: bytes, vt: int, off: int, codepage: int):
    if vt in (VT_EMPTY, VT_NULL):
        return None
    if vt == VT_I2:
        return struct.unpack_from("<h", data, off)[0]
    if vt == VT_UI2:
        return struct.unpack_from("<H", data, off)[0]
    if vt == VT_I4:
        return struct.unpack_from("<i", data, off)[0]
    if vt == VT_UI4:
        return struct.unpack_from("<I", data, off)[0]
    if vt == VT_BOOL:
        return struct.unpack_from("<h", data, off)[0] != 0
    if vt == VT_LPSTR:
        (n,) = struct.unpack_from("<I", data, off)
        if off + 4 + n > len(data):
            raise IndexError
        raw = bytes(data[off + 4:off + 4 + n])
        nul = raw.find(b"\x00")
        if nul >= 0:
            raw = raw[:nul]
        return cp.decode(raw, codepage)
    if vt == VT_LPWSTR:
        (n,) = struct.unpack_from("<I", data, off)
        if off + 4 + 2 * n > len(data):
            raise IndexError
        return bytes(data[off + 4:off + 4 + 2 * n]).decode("utf-16-le", "replace").split("\x00", 1)[0]
    if vt == VT_FILETIME:
        return filetime_to_datetime(struct.unpack_from("<Q", data, off)[0])
    raise _Unsupported(vt)
