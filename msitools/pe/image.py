"""PE images (EXE/DLL/SYS): machine, platform and the version resource.

Windows Installer compares ``File.Version`` with the **binary** version in the
image's ``VS_FIXEDFILEINFO`` (``VerQueryValue(..., "\\\\")``), not with the
StringFileInfo ``FileVersion`` text; ``File.Language`` comes from the
``VarFileInfo\\Translation`` language ids (Wine ``MsiGetFileVersionW`` reports
the first one).  See docs/FORMATS.md §8.

Headers, sections and RVA mapping come from :mod:`pefile` (imported lazily, so
the package imports without it).  The resource walk to ``RT_VERSION`` and the
VS_VERSIONINFO decoding are done here: they follow only the path Windows
follows (type 16 -> id 1 -> one language), every directory read is bounded by
:class:`~msitools.limits.Limits` (``pe_resource_depth``,
``pe_resource_entries``) and a directory that points back into its own path is
reported as a cycle.
"""
from __future__ import annotations

import datetime as _dt
import os
import struct
from dataclasses import dataclass, field
from typing import Union

from msitools.errors import MsiToolsError, PeError
from msitools.limits import DEFAULT_LIMITS, Limits

__all__ = [
    "MACHINE_AMD64",
    "MACHINE_ARM",
    "MACHINE_ARM64",
    "MACHINE_ARMNT",
    "MACHINE_I386",
    "MACHINE_IA64",
    "PeInfo",
    "looks_like_pe",
    "msi_platform_name",
    "platform_name",
    "read_pe_info",
]

MACHINE_I386 = 0x014C
MACHINE_AMD64 = 0x8664
MACHINE_IA64 = 0x0200
MACHINE_ARM64 = 0xAA64
MACHINE_ARM = 0x01C0
MACHINE_ARMNT = 0x01C4

# Platform names as the published KB file-information tables spell them.
_KB_PLATFORM = {
    MACHINE_I386: "x86",
    MACHINE_AMD64: "x64",
    MACHINE_IA64: "IA-64",
    MACHINE_ARM64: "ARM64",
    MACHINE_ARM: "ARM",
    MACHINE_ARMNT: "ARM",
}
# Platform names of the MSI Summary Information "Template" property.
_MSI_PLATFORM = {
    MACHINE_I386: "Intel",
    MACHINE_AMD64: "x64",
    MACHINE_IA64: "Intel64",
    MACHINE_ARM64: "Arm64",
    MACHINE_ARM: "Arm",
    MACHINE_ARMNT: "Arm",
}

IMAGE_FILE_DLL = 0x2000
RT_VERSION = 16
VS_VERSION_INFO_ID = 1
VS_FFI_SIGNATURE = 0xFEEF04BD
_LANG_PREFERENCE = (0x0000, 0x0409)  # neutral, then en-US, then the first entry

_RES_DIR = struct.Struct("<IIHHHH")  # Characteristics, TimeDateStamp, Major, Minor, #named, #id
_RES_ENTRY = struct.Struct("<II")  # Name/Id, OffsetToData (high bit: subdirectory)
_RES_DATA = struct.Struct("<IIII")  # OffsetToData (RVA), Size, CodePage, Reserved
_FIXED = struct.Struct("<13I")
_VERSION_BLOCK_DEPTH = 4  # VS_VERSIONINFO > StringFileInfo > StringTable > String

Source = Union[bytes, bytearray, memoryview, str, "os.PathLike[str]"]


def platform_name(machine: int) -> str:
    """KB-table platform name for a COFF machine value (``unknown (0x....)`` otherwise)."""
    return _KB_PLATFORM.get(machine, f"unknown (0x{machine:04X})")


def msi_platform_name(machine: int) -> str | None:
    """MSI Template platform name (Intel, x64, Intel64, Arm64, Arm) or None."""
    return _MSI_PLATFORM.get(machine)


@dataclass(frozen=True)
class PeInfo:
    """What Windows Installer (and a hotfix checker) needs from a PE image."""

    machine: int
    platform: str
    msi_platform: str | None
    pe32_plus: bool
    is_dll: bool
    timestamp: int
    checksum: int
    has_certificate_table: bool
    file_version: str | None = None
    product_version: str | None = None
    file_version_parts: tuple[int, int, int, int] | None = None
    product_version_parts: tuple[int, int, int, int] | None = None
    file_flags: int = 0
    file_os: int = 0
    file_type: int = 0
    has_version_resource: bool = False
    resource_language: int | None = None
    translations: tuple[tuple[int, int], ...] = ()
    strings: dict[str, str] = field(default_factory=dict)
    string_tables: dict[str, dict[str, str]] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    @property
    def languages(self) -> tuple[int, ...]:
        """Language ids from VarFileInfo\\Translation, in file order."""
        return tuple(lang for lang, _cp in self.translations)

    @property
    def language(self) -> int | None:
        """First translation language: what MsiGetFileVersion reports (Wine msi.c)."""
        return self.translations[0][0] if self.translations else None

    @property
    def timestamp_utc(self) -> _dt.datetime:
        """COFF TimeDateStamp as an aware UTC datetime (reproducible builds store a hash here)."""
        return _dt.datetime.fromtimestamp(self.timestamp, tz=_dt.timezone.utc)

    def _string(self, key: str) -> str | None:
        return self.strings.get(key)

    @property
    def file_version_string(self) -> str | None:
        """StringFileInfo FileVersion text (not what Windows Installer compares)."""
        return self._string("FileVersion")

    @property
    def product_version_string(self) -> str | None:
        return self._string("ProductVersion")

    @property
    def company_name(self) -> str | None:
        return self._string("CompanyName")

    @property
    def original_filename(self) -> str | None:
        return self._string("OriginalFilename")

    @property
    def product_name(self) -> str | None:
        return self._string("ProductName")

    @property
    def file_description(self) -> str | None:
        return self._string("FileDescription")


def looks_like_pe(data: bytes | bytearray | memoryview) -> bool:
    """True when *data* starts with an MZ header whose e_lfanew points at ``PE\\0\\0``."""
    if len(data) < 0x40 or bytes(data[:2]) != b"MZ":
        return False
    (lfanew,) = struct.unpack_from("<I", data, 0x3C)
    return lfanew + 4 <= len(data) and bytes(data[lfanew:lfanew + 4]) == b"PE\0\0"


def load_image(source: Source, name, limits: Limits, error=PeError) -> tuple[bytes, str | None]:
    """The bytes of a PE image given as bytes or a path (bounded by ``pe_read_size``), and its label;
    an unreadable file raises *error*."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        limits.check("pe_read_size", len(data), "PE image", name)
        return data, name
    path = os.fspath(source)
    label = name if name is not None else path
    try:
        size = os.path.getsize(path)
        limits.check("pe_read_size", size, "PE image", label)
        with open(path, "rb") as handle:
            return handle.read(), label
    except OSError as exc:
        raise error(f"cannot read file: {exc.strerror or exc}", label) from None


def read_pe_info(source: Source, name: str | None = None,
                 limits: Limits = DEFAULT_LIMITS) -> PeInfo | None:
    """Read machine, DLL flag, timestamp and the version resource of a PE image.

    *source* is the image's bytes or a path; *name* labels errors (defaults to
    the path).  Returns None when the data is not a PE image at all (no MZ
    header or no ``PE\\0\\0`` signature).  Raises :class:`PeError` for a
    malformed image and :class:`LimitExceeded` past a resource limit.
    """
    data, label = load_image(source, name, limits)
    if not looks_like_pe(data):
        return None
    try:
        import pefile  # lazy: optional dependency
    except ImportError:  # pragma: no cover - environment without the extra
        raise PeError("reading PE images needs the 'pefile' package", label) from None

    try:
        pe = pefile.PE(data=data, fast_load=True)
    except pefile.PEFormatError as exc:
        raise PeError(f"malformed PE image: {_one_line(exc.value)}", label) from None
    except Exception as exc:  # pefile may raise struct/index errors on hostile input
        raise PeError(f"malformed PE image: {type(exc).__name__}: {_one_line(exc)}", label) from None

    try:
        return _build_info(pe, data, label, limits)
    except MsiToolsError:
        raise
    except Exception as exc:  # never let pefile/struct errors escape
        raise PeError(f"malformed PE image: {type(exc).__name__}: {_one_line(exc)}", label) from None
    # no pe.close(): built from bytes there is no file to release, and close() runs gc.collect()


def _one_line(value) -> str:
    return " ".join(str(value).split())


def _build_info(pe, data: bytes, label, limits: Limits) -> PeInfo:
    import pefile

    machine = pe.FILE_HEADER.Machine
    opt = getattr(pe, "OPTIONAL_HEADER", None)
    if opt is None:
        raise PeError("PE image has no optional header", label)
    pe32_plus = opt.Magic == pefile.OPTIONAL_HEADER_MAGIC_PE_PLUS
    dirs = opt.DATA_DIRECTORY
    security = dirs[4] if len(dirs) > 4 else None
    resources = dirs[2] if len(dirs) > 2 else None

    common = dict(
        machine=machine,
        platform=platform_name(machine),
        msi_platform=msi_platform_name(machine),
        pe32_plus=pe32_plus,
        is_dll=bool(pe.FILE_HEADER.Characteristics & IMAGE_FILE_DLL),
        timestamp=pe.FILE_HEADER.TimeDateStamp,
        checksum=opt.CheckSum,
        has_certificate_table=bool(security is not None and security.VirtualAddress and security.Size),
    )
    if resources is None or not resources.VirtualAddress or not resources.Size:
        return PeInfo(**common)

    reader = _RvaReader(pe, label)
    leaf = _find_version_leaf(reader, resources.VirtualAddress, label, limits)
    if leaf is None:
        return PeInfo(**common)
    data_rva, data_size, language = leaf
    limits.check("pe_read_size", data_size, "version resource", label)
    blob = reader.read(data_rva, data_size, "version resource data")
    version = _parse_version_info(blob, label, limits)
    return PeInfo(**common, has_version_resource=True, resource_language=language, **version)


class _RvaReader:
    """Reads image bytes by RVA through pefile's section mapping, with bounds checks."""

    def __init__(self, pe, label):
        self._pe = pe
        self._label = label

    def read(self, rva: int, length: int, what: str) -> bytes:
        import pefile

        try:
            chunk = self._pe.get_data(rva, length)
        except pefile.PEFormatError:
            chunk = b""
        if len(chunk) != length:
            raise PeError(f"{what} at RVA 0x{rva:X} (+{length}) lies outside the image", self._label)
        return chunk


def _find_version_leaf(reader: _RvaReader, root_rva: int, label,
                       limits: Limits) -> tuple[int, int, int | None] | None:
    """Walk type RT_VERSION -> id 1 -> language; return (data RVA, size, language id or None if named)."""
    path: list[int] = []  # directory offsets on the current path (cycle detection)
    entries_seen = 0

    def directory(offset: int, level: int) -> list[tuple[int, bool, int]]:
        nonlocal entries_seen
        limits.check("pe_resource_depth", level, "resource directory nesting", label)
        if offset in path:
            raise PeError(f"resource directory cycle at offset 0x{offset:X}", label)
        path.append(offset)
        header = reader.read(root_rva + offset, _RES_DIR.size, "resource directory")
        named, ids = _RES_DIR.unpack(header)[4:6]
        count = named + ids
        entries_seen += count
        limits.check("pe_resource_entries", entries_seen, "resource directory entries", label)
        raw = reader.read(root_rva + offset + _RES_DIR.size, count * _RES_ENTRY.size, "resource directory entries")
        result: list[tuple[int, bool, int]] = []
        for name, target in _RES_ENTRY.iter_unpack(raw):
            # named entries carry a string offset, not an id: they never match an id
            ident = -1 if name & 0x80000000 else name
            result.append((ident, bool(target & 0x80000000), target & 0x7FFFFFFF))
        return result

    def pick(entries: list[tuple[int, bool, int]], wanted: tuple[int, ...] | None) -> tuple[int, bool, int] | None:
        if wanted is None:
            return entries[0] if entries else None
        for ident in wanted:
            for entry in entries:
                if entry[0] == ident:
                    return entry
        return None

    types = directory(0, 1)
    entry = pick(types, (RT_VERSION,))
    if entry is None:
        return None
    if not entry[1]:
        raise PeError("RT_VERSION resource entry is not a directory", label)
    names = directory(entry[2], 2)
    entry = pick(names, (VS_VERSION_INFO_ID,))
    if entry is None:
        return None
    if not entry[1]:
        raise PeError("version resource name entry is not a directory", label)
    languages = directory(entry[2], 3)
    entry = pick(languages, _LANG_PREFERENCE) or pick(languages, None)
    if entry is None:
        return None
    language, is_dir, offset = entry
    if is_dir:
        # a fourth level: deeper than any resource tree Windows reads
        limits.check("pe_resource_depth", 4, "resource directory nesting", label)
        raise PeError("version resource language entry points to a directory, not data", label)
    data_rva, size, _codepage, _reserved = _RES_DATA.unpack(
        reader.read(root_rva + offset, _RES_DATA.size, "resource data entry"))
    if size == 0:
        return None
    return data_rva, size, language if language >= 0 else None


@dataclass
class _Block:
    key: str
    value: bytes
    is_text: bool
    children: list[_Block]


def _align4(n: int) -> int:
    return (n + 3) & ~3


def _parse_block(blob: bytes, offset: int, end: int, depth: int, counter: list[int],
                 limits: Limits, label, warnings: list[str]) -> tuple[_Block, int]:
    """Parse one version block at *offset*; return it and the offset just past it.

    A malformed child ends the parent's child list with a warning (Windows'
    VerQueryValue likewise just fails to find what lies past it); only the
    block itself being malformed raises :class:`PeError`.
    """
    if offset + 6 > end:
        raise PeError(f"version block at offset {offset} is truncated", label)
    length, value_length, value_type = struct.unpack_from("<HHH", blob, offset)
    if length < 6:
        raise PeError(f"version block at offset {offset} has length {length}", label)
    block_end = offset + length
    if block_end > end:
        raise PeError(f"version block at offset {offset} runs past its parent ({block_end} > {end})", label)
    counter[0] += 1
    limits.check("pe_resource_entries", counter[0], "version resource blocks", label)

    # key: NUL-terminated UTF-16LE
    pos = offset + 6
    key_end = pos
    while key_end + 1 < block_end and blob[key_end:key_end + 2] != b"\0\0":
        key_end += 2
    key = blob[pos:key_end].decode("utf-16-le", "replace")
    pos = _align4(key_end + 2)

    is_text = value_type == 1
    if is_text:
        # wValueLength counts WCHARs; some linkers count bytes: read up to the NUL instead
        text_end = pos
        while text_end + 1 < block_end and blob[text_end:text_end + 2] != b"\0\0":
            text_end += 2
        if value_length == 0:
            text_end = pos
        value = blob[pos:min(text_end, block_end)]
        value_size = min(value_length * 2, max(block_end - pos, 0))
    else:
        value_size = min(value_length, max(block_end - pos, 0))
        value = blob[pos:pos + value_size]
    children: list[_Block] = []
    child = _align4(pos + value_size)
    if depth < _VERSION_BLOCK_DEPTH:
        while child + 6 <= block_end:
            try:
                block, child = _parse_block(blob, child, block_end, depth + 1, counter, limits, label, warnings)
            except PeError as exc:
                warnings.append(f"{key or 'version block'}: {exc.message}")
                break
            children.append(block)
            child = _align4(child)
    return _Block(key, value, is_text, children), block_end


def _version(ms: int, ls: int) -> tuple[int, int, int, int]:
    return (ms >> 16, ms & 0xFFFF, ls >> 16, ls & 0xFFFF)


def _parse_version_info(blob: bytes, label, limits: Limits) -> dict:
    """Decode VS_VERSIONINFO into PeInfo fields."""
    counter = [0]
    warnings: list[str] = []
    if len(blob) < 6:
        raise PeError(f"version resource is {len(blob)} bytes long", label)
    (declared,) = struct.unpack_from("<H", blob, 0)
    if declared > len(blob):
        warnings.append(f"VS_VERSIONINFO claims {declared} bytes, the resource holds {len(blob)}")
        blob = blob + bytes(declared - len(blob))
    root, _ = _parse_block(blob, 0, len(blob), 1, counter, limits, label, warnings)
    if root.key != "VS_VERSION_INFO":
        warnings.append(f"version resource key is {root.key!r}, not 'VS_VERSION_INFO'")
    out: dict = {}
    if len(root.value) >= _FIXED.size:
        fields = _FIXED.unpack_from(root.value)
        if fields[0] == VS_FFI_SIGNATURE:
            file_parts = _version(fields[2], fields[3])
            product_parts = _version(fields[4], fields[5])
            out.update(
                file_version_parts=file_parts,
                product_version_parts=product_parts,
                file_version=".".join(map(str, file_parts)),
                product_version=".".join(map(str, product_parts)),
                file_flags=fields[7] & fields[6],
                file_os=fields[8],
                file_type=fields[9],
            )
        else:
            warnings.append(f"VS_FIXEDFILEINFO signature is 0x{fields[0]:08X}, not 0xFEEF04BD")
    elif root.value:
        warnings.append(f"VS_FIXEDFILEINFO is {len(root.value)} bytes, expected {_FIXED.size}")

    tables: dict[str, dict[str, str]] = {}
    translations: list[tuple[int, int]] = []
    for info in root.children:
        if info.key == "StringFileInfo":
            for table in info.children:
                entries = tables.setdefault(table.key.upper(), {})
                for string in table.children:
                    entries[string.key] = string.value.decode("utf-16-le", "replace") if string.is_text \
                        else string.value.decode("utf-16-le", "replace").rstrip("\0")
        elif info.key == "VarFileInfo":
            for var in info.children:
                if var.key == "Translation":
                    raw = var.value[: len(var.value) // 4 * 4]
                    translations.extend(struct.iter_unpack("<HH", raw))
    chosen: dict[str, str] = {}
    for lang, codepage in translations:
        chosen = tables.get(f"{lang:04X}{codepage:04X}", {})
        if chosen:
            break
    if not chosen and tables:
        chosen = next(iter(tables.values()))
    out.update(strings=dict(chosen), string_tables=tables, translations=tuple(translations),
               warnings=tuple(warnings))
    return out
