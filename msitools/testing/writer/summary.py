"""Writer for the ``\\x05SummaryInformation`` property set (FORMATS §2).

One section with FMTID {F29F85E0-4FF9-1068-AB91-08002B27B3D9}; properties in
ascending id order; PID 1 (codepage) as VT_I2, text as VT_LPSTR in that
codepage, times as VT_FILETIME, counts as VT_I4.  The per-kind meaning of the
fields (MSI / MSP / MST) is captured by the ``for_msi``/``for_msp``/``for_mst``
constructors and the small helpers below.
"""
from __future__ import annotations

import struct
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Union

from msitools.base import codepage as _codepage
from msitools.errors import SummaryInfoError

STREAM_NAME = "\x05SummaryInformation"
FMTID_SUMMARY = uuid.UUID("F29F85E0-4FF9-1068-AB91-08002B27B3D9").bytes_le

PID_CODEPAGE = 1
PID_TITLE = 2
PID_SUBJECT = 3
PID_AUTHOR = 4
PID_KEYWORDS = 5
PID_COMMENTS = 6
PID_TEMPLATE = 7
PID_LASTAUTHOR = 8
PID_REVNUMBER = 9
PID_LASTPRINTED = 11
PID_CREATE_DTM = 12
PID_LASTSAVE_DTM = 13
PID_PAGECOUNT = 14
PID_WORDCOUNT = 15
PID_CHARCOUNT = 16
PID_APPNAME = 18
PID_SECURITY = 19

VT_EMPTY = 0
VT_I2 = 2
VT_I4 = 3
VT_LPSTR = 30
VT_FILETIME = 64

FILETIME_UNIX_EPOCH = 116444736000000000  # 1970-01-01 in 100-ns ticks since 1601-01-01

# MST CharCount halves (msdocs character-count-summary; wine include/msiquery.h)
VALIDATE_LANGUAGE = 0x0001
VALIDATE_PRODUCT = 0x0002
VALIDATE_PLATFORM = 0x0004
VALIDATE_MAJORVERSION = 0x0008
VALIDATE_MINORVERSION = 0x0010
VALIDATE_UPDATEVERSION = 0x0020
VALIDATE_NEWLESSBASEVERSION = 0x0040
VALIDATE_NEWLESSEQUALBASEVERSION = 0x0080
VALIDATE_NEWEQUALBASEVERSION = 0x0100
VALIDATE_NEWGREATEREQUALBASEVERSION = 0x0200
VALIDATE_NEWGREATERBASEVERSION = 0x0400
VALIDATE_UPGRADECODE = 0x0800
ERROR_ADDEXISTINGROW = 0x01
ERROR_DELMISSINGROW = 0x02
ERROR_ADDEXISTINGTABLE = 0x04
ERROR_DELMISSINGTABLE = 0x08
ERROR_UPDATEMISSINGROW = 0x10
ERROR_CHANGECODEPAGE = 0x20

TimeLike = Union[int, datetime, None]  # noqa: UP007 (a runtime alias: "|" needs Python 3.10 classes on both sides)

_STRING_FIELDS = {
    PID_TITLE: "title", PID_SUBJECT: "subject", PID_AUTHOR: "author", PID_KEYWORDS: "keywords",
    PID_COMMENTS: "comments", PID_TEMPLATE: "template", PID_LASTAUTHOR: "last_author",
    PID_REVNUMBER: "revision", PID_APPNAME: "app_name",
}
_TIME_FIELDS = {PID_LASTPRINTED: "last_printed", PID_CREATE_DTM: "created", PID_LASTSAVE_DTM: "last_saved"}
_INT_FIELDS = {PID_PAGECOUNT: "page_count", PID_WORDCOUNT: "word_count", PID_CHARCOUNT: "char_count",
               PID_SECURITY: "security"}


def filetime(value: TimeLike) -> int | None:
    """FILETIME ticks from an int (taken as ticks) or a datetime (naive = UTC)."""
    if value is None or isinstance(value, int):
        return value
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        delta = value - datetime(1970, 1, 1, tzinfo=timezone.utc)
        ticks = (delta.days * 86400 + delta.seconds) * 10_000_000 + delta.microseconds * 10
        return FILETIME_UNIX_EPOCH + ticks
    raise SummaryInfoError(f"not a time: {value!r}")


def transform_list(names: Iterable[str]) -> str:
    """MSP LastAuthor (PID 8): ``:name`` for each transform substorage, joined by ``;``."""
    return ";".join(f":{n}" for n in names)


def patch_revision(patch_code: str, obsoleted: Iterable[str] = ()) -> str:
    """MSP RevNumber (PID 9): patch code GUID followed by obsoleted patch GUIDs, no separator."""
    return patch_code + "".join(obsoleted)


def transform_revision(old_product_code: str, old_version: str, new_product_code: str,
                       new_version: str, upgrade_code: str = "") -> str:
    """MST RevNumber (PID 9): ``{OldPC}OldVer;{NewPC}NewVer;{UpgradeCode}``."""
    return f"{old_product_code}{old_version};{new_product_code}{new_version};{upgrade_code}"


def transform_char_count(validation: int, error_conditions: int) -> int:
    """MST CharCount (PID 16): validation flags in the high word, error conditions in the low."""
    return ((validation & 0xFFFF) << 16) | (error_conditions & 0xFFFF)


@dataclass
class SummaryInfo:
    """The summary-information fields; ``None`` leaves a property out."""

    codepage: int = 1252
    title: str | None = None
    subject: str | None = None
    author: str | None = None
    keywords: str | None = None
    comments: str | None = None
    template: str | None = None
    last_author: str | None = None
    revision: str | None = None
    last_printed: TimeLike = None
    created: TimeLike = None
    last_saved: TimeLike = None
    page_count: int | None = None
    word_count: int | None = None
    char_count: int | None = None
    app_name: str | None = None
    security: int | None = None
    extra: dict[int, tuple[int, object]] = field(default_factory=dict)  # pid -> (VT, value)

    # per-kind constructors ---------------------------------------------------------------
    @classmethod
    def for_msi(cls, *, package_code: str, template: str = "Intel;1033", page_count: int = 200,
                word_count: int = 2, title: str = "Installation Database", **fields) -> SummaryInfo:
        """An .msi/.msm: Template ``platform;languages``, RevNumber = package code,
        PageCount = minimum installer version, WordCount = source-image flags."""
        fields.setdefault("security", 2)
        return cls(title=title, template=template, revision=package_code, page_count=page_count,
                   word_count=word_count, **fields)

    @classmethod
    def for_msp(cls, *, target_product_codes: Iterable[str], transforms: Iterable[str],
                patch_code: str, obsoleted: Iterable[str] = (), word_count: int = 1,
                title: str = "Patch", **fields) -> SummaryInfo:
        """An .msp: Template = target ProductCodes, LastAuthor = ``:T;:#T`` transform list,
        RevNumber = patch code + obsoleted codes, WordCount = patch engine level."""
        fields.setdefault("security", 4)
        return cls(title=title, template=";".join(target_product_codes),
                   last_author=transform_list(transforms),
                   revision=patch_revision(patch_code, obsoleted), word_count=word_count, **fields)

    @classmethod
    def for_mst(cls, *, template: str, new_template: str | None = None, revision: str,
                validation: int = 0, error_conditions: int = 0, page_count: int = 200,
                title: str = "Transform", **fields) -> SummaryInfo:
        """A transform: Template = what the base must be, LastAuthor = the Template after
        it, RevNumber from :func:`transform_revision`, CharCount = validation << 16 | errors."""
        fields.setdefault("security", 4)
        return cls(title=title, template=template,
                   last_author=template if new_template is None else new_template,
                   revision=revision, page_count=page_count,
                   char_count=transform_char_count(validation, error_conditions), **fields)

    # serialisation --------------------------------------------------------------------------
    def properties(self) -> list[tuple[int, int, object]]:
        """(pid, VT, value) for every property that will be written, in id order."""
        props: dict[int, tuple[int, object]] = {PID_CODEPAGE: (VT_I2, self.codepage)}
        for pid, attr in _STRING_FIELDS.items():
            value = getattr(self, attr)
            if value is not None:
                props[pid] = (VT_LPSTR, value)
        for pid, attr in _TIME_FIELDS.items():
            value = filetime(getattr(self, attr))
            if value is not None:
                props[pid] = (VT_FILETIME, value)
        for pid, attr in _INT_FIELDS.items():
            value = getattr(self, attr)
            if value is not None:
                props[pid] = (VT_I4, value)
        props.update(self.extra)
        return [(pid, vt, value) for pid, (vt, value) in sorted(props.items())]

    def _encode_value(self, vt: int, value) -> bytes:
        try:
            if vt == VT_EMPTY:
                return struct.pack("<I", vt)
            if vt == VT_I2:
                v = int(value)
                if v > 0x7FFF:
                    v -= 0x10000  # 65001 -> -535, as Windows stores it
                return struct.pack("<Ih2x", vt, v)
            if vt == VT_I4:
                return struct.pack("<Ii", vt, int(value))
            if vt == VT_FILETIME:
                return struct.pack("<IQ", vt, int(value))
            if vt == VT_LPSTR:
                if not isinstance(value, (str, bytes)):
                    raise SummaryInfoError(f"summary property value {value!r} is not text")
                raw = value if isinstance(value, bytes) else self._encode_text(value)
                raw += b"\x00"
                pad = (-len(raw)) % 4
                return struct.pack("<II", vt, len(raw)) + raw + bytes(pad)
        except (struct.error, TypeError, ValueError) as exc:
            raise SummaryInfoError(f"summary property value {value!r} does not fit VT {vt}") from exc
        raise SummaryInfoError(f"unsupported VT {vt} in summary information")

    def _encode_text(self, text: str) -> bytes:
        try:
            return _codepage.encode(text, self.codepage)
        except UnicodeEncodeError as exc:
            raise SummaryInfoError(
                f"summary text {text!r} cannot be written in codepage {self.codepage}") from exc

    def to_bytes(self) -> bytes:
        """The complete ``\\x05SummaryInformation`` stream."""
        props = self.properties()
        values = [self._encode_value(vt, value) for _pid, vt, value in props]
        table_size = 8 + 8 * len(props)
        offsets = []
        pos = table_size
        for v in values:
            offsets.append(pos)
            pos += len(v)
        section = struct.pack("<II", pos, len(props))
        section += b"".join(struct.pack("<II", pid, off) for (pid, _vt, _v), off in zip(props, offsets))
        section += b"".join(values)
        header = struct.pack("<HHHH16sI", 0xFFFE, 0, 5, 2, bytes(16), 1)
        header += FMTID_SUMMARY + struct.pack("<I", 48)
        return header + section
