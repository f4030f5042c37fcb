"""msitools.testing.writer.pe: fixture PE images read back by pefile, objdump and 7-Zip."""
from __future__ import annotations

import datetime as dt
import struct
import subprocess

import pytest

from conftest import corpus_file, require_tool
from msitools.errors import UsageError
from msitools.pe.image import read_pe_info
from msitools.testing.writer.pe import build_pe, parse_version, pe_checksum
from pe.test_image import ENV_UTC, OBJDUMP_MACHINE, _cabextract, _objdump, seven_zip, version_txt

pefile = pytest.importorskip("pefile")

WHEN = dt.datetime(2011, 9, 14, 2, 30, 5, tzinfo=dt.timezone.utc)
CASES = [
    # machine, dll, file version, product version, size
    ("x86", True, "6.1.7601.21816", "6.1.7601.21816", 1_234_567),
    ("x64", True, "6.1.7601.21816", None, 98_765),
    ("x86", False, "4.0.30319.245", "4.0.30319.1", 4_097),
    ("x64", False, "65535.0.1.2", "1.2", 2_048),
]


def _build(machine, dll, fv, pv, size, strings=None):
    return build_pe(machine, fv, pv, size, WHEN, dll, strings)


@pytest.mark.parametrize("machine,dll,fv,pv,size", CASES)
def test_pefile_reads_back(machine, dll, fv, pv, size):
    image = _build(machine, dll, fv, pv, size)
    assert len(image) == size
    pe = pefile.PE(data=image)
    assert pe.FILE_HEADER.Machine == {"x86": 0x14C, "x64": 0x8664}[machine]
    assert pe.is_dll() == dll and pe.is_exe() == (not dll)
    assert pe.OPTIONAL_HEADER.Magic == (0x20B if machine == "x64" else 0x10B)
    assert pe.FILE_HEADER.TimeDateStamp == int(WHEN.timestamp())
    assert pe.verify_checksum()  # pefile's own checksum implementation
    assert pe.OPTIONAL_HEADER.SizeOfImage == 0x3000
    for section in pe.sections:
        assert section.PointerToRawData % pe.OPTIONAL_HEADER.FileAlignment == 0
        assert section.VirtualAddress % pe.OPTIONAL_HEADER.SectionAlignment == 0
    last = max(pe.sections, key=lambda s: s.VirtualAddress)
    assert pe.OPTIONAL_HEADER.SizeOfImage == -(-(last.VirtualAddress + last.Misc_VirtualSize) // 0x1000) * 0x1000
    ffi = pe.VS_FIXEDFILEINFO[0]
    want_fv = parse_version(fv)
    assert (ffi.FileVersionMS >> 16, ffi.FileVersionMS & 0xFFFF, ffi.FileVersionLS >> 16,
            ffi.FileVersionLS & 0xFFFF) == want_fv
    want_pv = parse_version(pv or fv)
    assert (ffi.ProductVersionMS >> 16, ffi.ProductVersionMS & 0xFFFF, ffi.ProductVersionLS >> 16,
            ffi.ProductVersionLS & 0xFFFF) == want_pv
    strings = {k.decode(): v.decode() for fi in pe.FileInfo[0] if hasattr(fi, "StringTable")
               for table in fi.StringTable for k, v in table.entries.items()}
    assert strings["FileVersion"] == fv and strings["ProductVersion"] == (pv or fv)
    assert set(strings) == {"CompanyName", "FileDescription", "FileVersion", "OriginalFilename",
                            "ProductName", "ProductVersion"}
    translations = [var.entry for fi in pe.FileInfo[0] if hasattr(fi, "Var") for var in fi.Var]
    assert translations == [{b"Translation": "0x0409 0x04b0"}]
    assert not [w for w in pe.get_warnings() if "makes up" not in w]  # only the 'mostly zeros' note


@pytest.mark.parametrize("machine,dll,fv,pv,size", CASES)
def test_objdump_reads_back(tmp_path, machine, dll, fv, pv, size):
    path = tmp_path / ("f.dll" if dll else "f.exe")
    path.write_bytes(_build(machine, dll, fv, pv, size))
    ref = _objdump(path)
    assert OBJDUMP_MACHINE[ref["format"]] == {"x86": 0x14C, "x64": 0x8664}[machine]
    assert ("DLL" in ref["flags"]) == dll
    assert ref["time"] == WHEN
    assert ref["magic"] == ("PE32+" if machine == "x64" else "PE32")
    assert ref["checksum"] == pefile.PE(str(path)).generate_checksum()
    sections = subprocess.run([require_tool("objdump"), "-h", str(path)], capture_output=True, text=True,
                              env=ENV_UTC, check=True).stdout
    assert ".text" in sections and ".rsrc" in sections


@pytest.mark.parametrize("machine,dll,fv,pv,size", CASES)
def test_7zip_reads_version_resource(tmp_path, machine, dll, fv, pv, size):
    path = tmp_path / "f.bin"
    extra = {"LegalCopyright": "none", "CompanyName": "Contoso \u00e9"}
    path.write_bytes(_build(machine, dll, fv, pv, size, extra))
    ref = version_txt(path)
    assert ref is not None
    assert ref["FILEVERSION"] == ".".join(map(str, parse_version(fv)))
    assert ref["PRODUCTVERSION"] == ".".join(map(str, parse_version(pv or fv)))
    assert ref["translations"] == [(0x0409, 1200)]
    assert ref["strings"]["CompanyName"] == "Contoso \u00e9"
    assert ref["strings"]["LegalCopyright"] == "none"
    assert ref["strings"]["FileVersion"] == fv
    # and our reader agrees with 7-Zip
    info = read_pe_info(path)
    assert info.file_version == ref["FILEVERSION"] and info.product_version == ref["PRODUCTVERSION"]
    assert info.strings == ref["strings"] and list(info.translations) == ref["translations"]


def test_7zip_accepts_checksum_of_an_image_without_overlay(tmp_path):
    """2048 bytes = headers + .text + .rsrc exactly: 7-Zip verifies the CheckSum field."""
    tool = seven_zip()
    for machine in ("x86", "x64"):
        image = bytearray(_build(machine, True, "1.2.3.4", None, 2048))
        path = tmp_path / f"{machine}.dll"
        path.write_bytes(image)
        listing = subprocess.run([tool, "l", "-tpe", str(path)], capture_output=True, text=True).stdout
        assert "Checksum error" not in listing and "Tail Size" not in listing
        # the same check notices a wrong field, so it is a real check
        (lfanew,) = struct.unpack_from("<I", image, 0x3C)
        struct.pack_into("<I", image, lfanew + 24 + 64, pe_checksum(image) ^ 0x10)
        path.write_bytes(image)
        listing = subprocess.run([tool, "l", "-tpe", str(path)], capture_output=True, text=True).stdout
        assert "Checksum error" in listing


def test_checksum_matches_pefile_on_real_images(tmp_path):
    _cabextract(corpus_file("vcredis1.cab"), tmp_path)
    for path in tmp_path.iterdir():
        data = path.read_bytes()
        pe = pefile.PE(data=data, fast_load=True)
        assert pe_checksum(data) == pe.generate_checksum()
        assert pe_checksum(data) == pe.OPTIONAL_HEADER.CheckSum  # Microsoft's linker wrote it


def test_deterministic_and_sensitive_to_inputs():
    a = _build("x64", True, "10.0.19041.1", None, 50_000)
    assert a == _build("x64", True, "10.0.19041.1", None, 50_000)
    assert a != _build("x64", True, "10.0.19041.2", None, 50_000)
    assert a != build_pe("x64", "10.0.19041.1", None, 50_000, WHEN + dt.timedelta(seconds=1), True, None)


def test_naive_timestamp_is_utc():
    naive = WHEN.replace(tzinfo=None)
    assert build_pe("x86", "1.0", None, 4096, naive, True, None) == build_pe("x86", "1.0", None, 4096, WHEN, True, None)


def test_strings_can_be_removed_and_added():
    image = _build("x86", True, "1.0.0.0", None, 4096, {"ProductName": None, "Comments": "hi"})
    info = read_pe_info(image)
    assert "ProductName" not in info.strings and info.strings["Comments"] == "hi"


@pytest.mark.parametrize("kwargs", [
    {"machine": "arm64"},
    {"file_version": "1.2.3.4.5"},
    {"file_version": "1.x"},
    {"file_version": "70000.0.0.0"},
    {"size": 1000},
])
def test_bad_arguments_raise_usage_error(kwargs):
    args = {"machine": "x86", "file_version": "1.0.0.0", "product_version": None, "size": 4096,
            "timestamp": WHEN, "is_dll": True, "strings": None, **kwargs}
    with pytest.raises(UsageError):
        build_pe(**args)
