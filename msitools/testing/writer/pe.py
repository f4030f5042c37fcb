"""Deterministic builder of small, valid PE images (test fixtures for the hotfix replica).

:func:`build_pe` lays out a PE32 (i386) or PE32+ (AMD64) image::

    0x000  DOS header (e_lfanew = 0x40)
    0x040  "PE\\0\\0", COFF header, optional header (16 data directories), 2 section headers
    0x200  .text  (RVA 0x1000): a stub that returns (TRUE for a DLL, 0 for an EXE)
    0x400  .rsrc  (RVA 0x2000): RT_VERSION / 1 / 0x0409 -> VS_VERSIONINFO
    ...    overlay of zero bytes up to exactly ``size`` bytes

VS_VERSIONINFO holds VS_FIXEDFILEINFO, a StringFileInfo table ``040904B0``
(CompanyName, FileDescription, FileVersion, OriginalFilename, ProductName,
ProductVersion plus whatever *strings* adds) and VarFileInfo Translation
0x0409/1200.  The CheckSum field is the standard PE image checksum
(:func:`pe_checksum`).  The same arguments always give the same bytes.
"""
from __future__ import annotations

import datetime as _dt
import struct

from msitools.errors import UsageError

__all__ = ["MACHINES", "build_pe", "parse_version", "pe_checksum"]

MACHINES = {"x86": 0x014C, "x64": 0x8664}

FILE_ALIGNMENT = 0x200
SECTION_ALIGNMENT = 0x1000
_E_LFANEW = 0x40
_NUM_DIRECTORIES = 16
_TEXT_RVA = 0x1000
_RSRC_RVA = 0x2000

# COFF characteristics
_EXECUTABLE_IMAGE = 0x0002
_RELOCS_STRIPPED = 0x0001
_LARGE_ADDRESS_AWARE = 0x0020
_MACHINE_32BIT = 0x0100
_DLL = 0x2000
# DllCharacteristics: NX_COMPAT | TERMINAL_SERVER_AWARE (no relocations, so no DYNAMIC_BASE)
_DLL_CHARACTERISTICS = 0x0100 | 0x8000

_SCN_CODE = 0x60000020  # CNT_CODE | MEM_EXECUTE | MEM_READ
_SCN_DATA = 0x40000040  # CNT_INITIALIZED_DATA | MEM_READ

_STUBS = {
    # mov eax, 1 ; ret 12   (DllMain is stdcall with 3 arguments)
    ("x86", True): bytes.fromhex("B801000000C20C00"),
    # xor eax, eax ; ret
    ("x86", False): bytes.fromhex("31C0C3"),
    # mov eax, 1 ; ret
    ("x64", True): bytes.fromhex("B801000000C3"),
    ("x64", False): bytes.fromhex("31C0C3"),
}

VS_FFI_SIGNATURE = 0xFEEF04BD
VS_FFI_STRUCVERSION = 0x00010000
VS_FFI_FILEFLAGSMASK = 0x3F
VOS_NT_WINDOWS32 = 0x00040004
VFT_APP = 1
VFT_DLL = 2
LANG_EN_US = 0x0409
CODEPAGE_UNICODE = 1200


def _align(value: int, alignment: int) -> int:
    return (value + alignment - 1) // alignment * alignment


def parse_version(text: str) -> tuple[int, int, int, int]:
    """``"a.b.c.d"`` (1 to 4 parts, each 0..65535) -> four integers, missing parts 0."""
    parts = text.split(".")
    if not 1 <= len(parts) <= 4 or not all(p.isdigit() for p in parts):
        raise UsageError(f"version {text!r} is not of the form a.b.c.d")
    numbers = [int(p) for p in parts] + [0] * (4 - len(parts))
    if any(n > 0xFFFF for n in numbers):
        raise UsageError(f"version {text!r} has a part above 65535")
    return tuple(numbers)  # type: ignore[return-value]


def pe_checksum(image: bytes | bytearray, checksum_offset: int | None = None) -> int:
    """The PE image checksum (as ``CheckSumMappedFile`` computes it).

    Sum of all 16-bit little-endian words of the file with end-around carry,
    the CheckSum field itself counted as zero, folded to 16 bits, plus the file
    length.  *checksum_offset* defaults to the field's place in the optional
    header found through e_lfanew.
    """
    data = bytes(image)
    if checksum_offset is None:
        (lfanew,) = struct.unpack_from("<I", data, 0x3C)
        checksum_offset = lfanew + 4 + 20 + 64
    data = data[:checksum_offset] + b"\0\0\0\0" + data[checksum_offset + 4:]
    if len(data) % 2:
        data += b"\0"
    total = sum(memoryview(data).cast("H"))  # one's-complement sum is order-free
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return (total + len(image)) & 0xFFFFFFFF


# --------------------------------------------------------------------------- version resource

def _utf16z(text: str) -> bytes:
    return text.encode("utf-16-le") + b"\0\0"


def _pad4(buf: bytearray) -> None:
    buf.extend(b"\0" * (-len(buf) % 4))


def _block(key: str, value: bytes, value_length: int, text: bool, children: list[bytes]) -> bytes:
    """One version block: wLength, wValueLength, wType, key, padding, value, padding, children."""
    buf = bytearray(6)
    buf += _utf16z(key)
    _pad4(buf)
    buf += value
    for child in children:
        _pad4(buf)
        buf += child
    struct.pack_into("<HHH", buf, 0, len(buf), value_length, 1 if text else 0)
    return bytes(buf)


def _string(key: str, value: str) -> bytes:
    raw = _utf16z(value)
    return _block(key, raw, len(raw) // 2, True, [])


def version_resource(file_version: str, product_version: str, is_dll: bool,
                     strings: dict[str, str]) -> bytes:
    """VS_VERSIONINFO bytes (fixed info, StringFileInfo 040904B0, VarFileInfo 0x0409/1200)."""
    fv = parse_version(file_version)
    pv = parse_version(product_version)
    fixed = struct.pack(
        "<13I",
        VS_FFI_SIGNATURE, VS_FFI_STRUCVERSION,
        (fv[0] << 16) | fv[1], (fv[2] << 16) | fv[3],
        (pv[0] << 16) | pv[1], (pv[2] << 16) | pv[3],
        VS_FFI_FILEFLAGSMASK, 0, VOS_NT_WINDOWS32,
        VFT_DLL if is_dll else VFT_APP, 0, 0, 0,
    )
    table_key = f"{LANG_EN_US:04X}{CODEPAGE_UNICODE:04X}"
    table = _block(table_key, b"", 0, True, [_string(k, v) for k, v in strings.items()])
    string_info = _block("StringFileInfo", b"", 0, True, [table])
    translation = struct.pack("<HH", LANG_EN_US, CODEPAGE_UNICODE)
    var = _block("Translation", translation, len(translation), False, [])
    var_info = _block("VarFileInfo", b"", 0, True, [var])
    return _block("VS_VERSION_INFO", fixed, len(fixed), False, [string_info, var_info])


def _resource_section(version: bytes, section_rva: int, rcdata: dict[str, bytes] | None = None) -> bytes:
    """Resource tree RT_VERSION(16) -> 1 -> 0x0409 -> VS_VERSIONINFO, plus RT_RCDATA(10) -> NAME -> 0x0409
    -> data for each of *rcdata* (named entries, as IExpress stores its CABINET)."""
    leaves: list[tuple[int, int | str, bytes]] = [(16, 1, version)]
    leaves += [(10, name, data) for name, data in sorted((rcdata or {}).items())]
    types = sorted({t for t, _n, _d in leaves})

    def header(named: int, ids: int) -> bytes:
        return struct.pack("<IIHHHH", 0, 0, 0, 0, named, ids)

    # layout: root, one name directory per type, one language directory per leaf, data entries, names, data
    root_size = 16 + 8 * len(types)
    by_type = {t: [(n, d) for tt, n, d in leaves if tt == t] for t in types}
    name_dirs: dict[int, int] = {}
    at = root_size
    for t in types:
        name_dirs[t] = at
        at += 16 + 8 * len(by_type[t])
    lang_dirs: list[int] = []
    for _ in leaves:
        lang_dirs.append(at)
        at += 16 + 8
    entries_at = at
    at += 16 * len(leaves)
    names_at: dict[str, int] = {}
    name_blob = bytearray()
    for _t, n, _d in leaves:
        if isinstance(n, str) and n not in names_at:
            names_at[n] = at + len(name_blob)
            name_blob += struct.pack("<H", len(n)) + n.encode("utf-16-le")
    at += len(name_blob)
    data_at: list[int] = []
    blobs = bytearray()
    for _t, _n, d in leaves:
        offset = _align(at + len(blobs), 8)
        blobs += b"\0" * (offset - at - len(blobs))
        data_at.append(offset)
        blobs += d
    out = bytearray(header(0, len(types)))
    for t in types:
        out += struct.pack("<II", t, 0x80000000 | name_dirs[t])
    index = 0
    order = []
    for t in types:
        items = by_type[t]
        named = [(n, d) for n, d in items if isinstance(n, str)]
        ids = [(n, d) for n, d in items if not isinstance(n, str)]
        out += header(len(named), len(ids))
        for n, _d in named + ids:
            key = 0x80000000 | names_at[n] if isinstance(n, str) else n
            out += struct.pack("<II", key, 0x80000000 | lang_dirs[index])
            order.append(index)
            index += 1
    for i in range(len(leaves)):
        out += header(0, 1) + struct.pack("<II", LANG_EN_US, entries_at + 16 * i)
    leaf_order = [leaf for t in types for leaf in
                  [x for x in leaves if x[0] == t and isinstance(x[1], str)] + [x for x in leaves if x[0] == t and
                                                                              not isinstance(x[1], str)]]
    for i, (_t, _n, d) in enumerate(leaf_order):
        out += struct.pack("<IIII", section_rva + data_at[leaves.index(leaf_order[i])], len(d), 0, 0)
    out += name_blob
    out += blobs
    return bytes(out)


# --------------------------------------------------------------------------- image

def _default_strings(file_version: str, product_version: str, is_dll: bool) -> dict[str, str]:
    return {
        "CompanyName": "msitools test fixtures",
        "FileDescription": "msitools PE fixture",
        "FileVersion": file_version,
        "OriginalFilename": "fixture.dll" if is_dll else "fixture.exe",
        "ProductName": "msitools",
        "ProductVersion": product_version,
    }


def build_pe(machine: str, file_version: str, product_version: str | None, size: int,
             timestamp: _dt.datetime, is_dll: bool, strings: dict[str, str | None] | None = None,
             rcdata: dict[str, bytes] | None = None, sections: tuple[tuple[bytes, bytes], ...] = ()) -> bytes:
    """A valid minimal PE image of exactly *size* bytes (see the module docstring).

    *machine* is ``"x86"`` (PE32, i386) or ``"x64"`` (PE32+, AMD64).
    *product_version* defaults to *file_version*.  *timestamp* becomes the COFF
    TimeDateStamp (a naive datetime is taken as UTC).  *strings* adds or
    replaces StringFileInfo values; a value of None removes a default key.
    *rcdata* adds named RT_RCDATA resources (IExpress's ``CABINET``); *sections* adds
    sections after ``.rsrc`` (name, data), such as Burn's ``.wixburn``.
    Raises :class:`UsageError` for an unknown machine, a malformed version or
    a *size* smaller than the image needs.
    """
    if machine not in MACHINES:
        raise UsageError(f"machine must be one of {sorted(MACHINES)}, not {machine!r}")
    if product_version is None:
        product_version = file_version
    pe32_plus = machine == "x64"
    merged = _default_strings(file_version, product_version, is_dll)
    for key, value in (strings or {}).items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    version = version_resource(file_version, product_version, is_dll, merged)

    code = _STUBS[(machine, is_dll)]
    rsrc = _resource_section(version, _RSRC_RVA, rcdata)
    text_raw = _align(len(code), FILE_ALIGNMENT)
    rsrc_raw = _align(len(rsrc), FILE_ALIGNMENT)
    if _RSRC_RVA + len(rsrc) > 0xFFFFFFFF or len(rsrc) > 0x4000000:
        raise UsageError("resources are too large for a fixture image")
    optional_size = (240 if pe32_plus else 224)
    headers_end = _E_LFANEW + 4 + 20 + optional_size + (2 + len(sections)) * 40
    size_of_headers = _align(headers_end, FILE_ALIGNMENT)
    text_ptr = size_of_headers
    rsrc_ptr = text_ptr + text_raw
    image_end = rsrc_ptr + rsrc_raw
    extra = []  # (name, data, rva, raw size, file offset)
    rva = _align(_RSRC_RVA + len(rsrc), SECTION_ALIGNMENT)
    for name, data in sections:
        raw = _align(len(data), FILE_ALIGNMENT)
        extra.append((name, data, rva, raw, image_end))
        image_end += raw
        rva = _align(rva + len(data), SECTION_ALIGNMENT)
    if size < image_end:
        raise UsageError(f"size {size} is smaller than the {image_end} bytes this image needs")
    rsrc_rva = _RSRC_RVA
    if _TEXT_RVA + _align(len(code), SECTION_ALIGNMENT) > rsrc_rva:
        raise AssertionError("section layout overlap")  # pragma: no cover - fixed layout
    size_of_image = rva

    if timestamp.tzinfo is None:
        timestamp = timestamp.replace(tzinfo=_dt.timezone.utc)
    stamp = int(timestamp.timestamp())
    if not 0 <= stamp <= 0xFFFFFFFF:
        raise UsageError(f"timestamp {timestamp.isoformat()} does not fit a COFF TimeDateStamp")

    characteristics = _EXECUTABLE_IMAGE
    characteristics |= _LARGE_ADDRESS_AWARE if pe32_plus else _MACHINE_32BIT
    characteristics |= _DLL if is_dll else _RELOCS_STRIPPED
    coff = struct.pack("<HHIIIHH", MACHINES[machine], 2 + len(sections), stamp, 0, 0, optional_size,
                       characteristics)

    if pe32_plus:
        image_base = 0x180000000 if is_dll else 0x140000000
        standard = struct.pack("<HBBIIIII", 0x20B, 14, 0, text_raw, rsrc_raw, 0, _TEXT_RVA, _TEXT_RVA)
        windows = struct.pack(
            "<QIIHHHHHHIIIIHHQQQQII",
            image_base, SECTION_ALIGNMENT, FILE_ALIGNMENT, 6, 0, 0, 0, 6, 0, 0,
            size_of_image, size_of_headers, 0, 2 if is_dll else 3, _DLL_CHARACTERISTICS,
            0x100000, 0x1000, 0x100000, 0x1000, 0, _NUM_DIRECTORIES)
    else:
        image_base = 0x10000000 if is_dll else 0x400000
        standard = struct.pack("<HBBIIIIII", 0x10B, 14, 0, text_raw, rsrc_raw, 0, _TEXT_RVA, _TEXT_RVA, rsrc_rva)
        windows = struct.pack(
            "<IIIHHHHHHIIIIHHIIIIII",
            image_base, SECTION_ALIGNMENT, FILE_ALIGNMENT, 6, 0, 0, 0, 6, 0, 0,
            size_of_image, size_of_headers, 0, 2 if is_dll else 3, _DLL_CHARACTERISTICS,
            0x100000, 0x1000, 0x100000, 0x1000, 0, _NUM_DIRECTORIES)
    directories = [(0, 0)] * _NUM_DIRECTORIES
    directories[2] = (rsrc_rva, len(rsrc))
    optional = standard + windows + b"".join(struct.pack("<II", *d) for d in directories)
    assert len(optional) == optional_size

    def section(name: bytes, vsize: int, rva: int, raw: int, ptr: int, flags: int) -> bytes:
        return struct.pack("<8sIIIIIIHHI", name, vsize, rva, raw, ptr, 0, 0, 0, 0, flags)

    headers = bytearray(64)
    headers[0:2] = b"MZ"
    struct.pack_into("<HHHHH", headers, 2, 0x90, 3, 0, 4, 0)  # cblp, cp, crlc, cparhdr, minalloc
    struct.pack_into("<HH", headers, 0x0C, 0xFFFF, 0)  # maxalloc, ss
    struct.pack_into("<H", headers, 0x10, 0xB8)  # sp
    struct.pack_into("<H", headers, 0x18, 0x40)  # lfarlc
    struct.pack_into("<I", headers, 0x3C, _E_LFANEW)
    headers += b"PE\0\0" + coff + optional
    headers += section(b".text", len(code), _TEXT_RVA, text_raw, text_ptr, _SCN_CODE)
    headers += section(b".rsrc", len(rsrc), rsrc_rva, rsrc_raw, rsrc_ptr, _SCN_DATA)
    for name, data, srva, raw, ptr in extra:
        headers += section(name, len(data), srva, raw, ptr, _SCN_DATA)
    assert len(headers) == headers_end

    image = bytearray(size)  # zero-filled: section padding and the overlay
    image[:len(headers)] = headers
    image[text_ptr:text_ptr + len(code)] = code
    image[rsrc_ptr:rsrc_ptr + len(rsrc)] = rsrc
    for _name, data, _rva, _raw, ptr in extra:
        image[ptr:ptr + len(data)] = data
    checksum_offset = _E_LFANEW + 4 + 20 + 64
    struct.pack_into("<I", image, checksum_offset, pe_checksum(image, checksum_offset))
    return bytes(image)
