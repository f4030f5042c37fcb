"""msitools.pe.image against real PE payloads of the corpus, checked with objdump and 7-Zip.

Payloads: the member of vcredis1.cab, the DLLs inside vcredist.msi's embedded
merge-module cabinets, PuTTY's executables inside its embedded putty.cab, and
the custom-action DLLs stored in Binary streams.  Machine, DLL flag and
timestamp are compared with ``objdump -p`` (binutils); the fixed file version,
product version, StringFileInfo strings and the Translation pair with the
``.rsrc/version.txt`` that 7-Zip synthesises from the version resource.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import os
import random
import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from conftest import corpus_file, require_tool
from msitools.errors import LimitExceeded, MsiToolsError, PeError
from msitools.limits import DEFAULT_LIMITS
from msitools.pe.image import looks_like_pe, msi_platform_name, platform_name, read_pe_info

pefile = pytest.importorskip("pefile")

ENV_UTC = {**os.environ, "TZ": "UTC", "LC_ALL": "C"}


# --------------------------------------------------------------------------- corpus payloads

def _stream(msi: Path, logical_name: str) -> bytes:
    olefile = pytest.importorskip("olefile")
    from msitools.container.streamname import encode_stream_name

    with olefile.OleFileIO(str(msi)) as ole:
        return ole.openstream(encode_stream_name(logical_name, False)).read()


def _cabextract(cab: Path, out: Path) -> None:
    tool = require_tool("cabextract")
    out.mkdir(parents=True, exist_ok=True)
    subprocess.run([tool, "-q", "-d", str(out), str(cab)], check=True, capture_output=True)


@pytest.fixture(scope="module")
def corpus_payloads(tmp_path_factory) -> "list[Path]":
    """Every PE file found in the corpus cabinets and Binary streams (extracted once)."""
    root = tmp_path_factory.mktemp("pe_payloads")
    _cabextract(corpus_file("vcredis1.cab"), root / "vcredis1")
    putty = corpus_file("putty-0.68-installer.msi")
    (root / "putty.cab").write_bytes(_stream(putty, "putty.cab"))
    _cabextract(root / "putty.cab", root / "putty")
    vcredist = corpus_file("vcredist.msi")
    for msm in ("_14241_Microsoft_VC80_CRT_x86.msm", "_14250_Microsoft_VC80_MFCLOC_x86.msm",
                "_14252_Microsoft_VC80_OpenMP_x86.msm"):
        (root / msm).write_bytes(_stream(vcredist, msm))
        _cabextract(root / msm, root / (msm + ".d"))
    binaries = root / "binary"
    binaries.mkdir()
    for msi, stream in ((putty, "Binary.WixCA"), (vcredist, "Binary.SxsUninstallCA")):
        (binaries / stream).write_bytes(_stream(msi, stream))
    found = sorted(p for p in root.rglob("*") if p.is_file() and p.read_bytes()[:2] == b"MZ")
    assert len(found) >= 20, found
    return found


def _objdump(path: Path) -> dict:
    tool = require_tool("objdump")
    out = subprocess.run([tool, "-p", str(path)], capture_output=True, text=True, env=ENV_UTC, check=True).stdout
    fmt = re.search(r"file format (\S+)", out).group(1)
    chars = re.search(r"^Characteristics 0x([0-9a-fA-F]+)\n((?:\t.*\n)*)", out, re.M)
    when = " ".join(re.search(r"^Time/Date\s+(.*)$", out, re.M).group(1).split())
    return {
        "format": fmt,
        "characteristics": int(chars.group(1), 16),
        "flags": [line.strip() for line in chars.group(2).splitlines()],
        "time": dt.datetime.strptime(when, "%a %b %d %H:%M:%S %Y").replace(tzinfo=dt.timezone.utc),
        "checksum": int(re.search(r"^CheckSum\s+([0-9a-fA-F]+)", out, re.M).group(1), 16),
        "magic": re.search(r"^Magic\s+\S+\s+\((PE32\+?)\)", out, re.M).group(1),
    }


OBJDUMP_MACHINE = {"pei-i386": 0x014C, "pei-x86-64": 0x8664}


def seven_zip() -> str:
    for name in ("7zz", "7z", "7za"):
        if shutil.which(name):
            return shutil.which(name)
    pytest.skip("7-Zip is not installed (apt-get install 7zip)")


def version_txt(path: Path) -> "dict | None":
    """Parse 7-Zip's synthesised .rsrc/version.txt (None when 7-Zip shows none)."""
    tool = seven_zip()
    listing = subprocess.run([tool, "l", "-tpe", str(path)], capture_output=True, text=True).stdout
    if ".rsrc/version.txt" not in listing:
        return None
    raw = subprocess.run([tool, "x", "-tpe", "-so", str(path), ".rsrc/version.txt"],
                         capture_output=True, check=True).stdout
    text = raw.decode("utf-16-le") if raw[1:2] == b"\0" else raw.decode("utf-8")
    parsed: dict = {"strings": {}, "translations": []}
    for line in text.splitlines():
        line = line.strip()
        m = re.match(r"(FILEVERSION|PRODUCTVERSION)\s+(\d+),(\d+),(\d+),(\d+)$", line)
        if m:
            parsed[m.group(1)] = ".".join(m.group(i) for i in range(2, 6))
            continue
        m = re.match(r'VALUE "Translation",\s*(.*)$', line)
        if m:
            numbers = [int(x.strip(), 0) for x in m.group(1).split(",")]
            parsed["translations"] += list(zip(numbers[::2], numbers[1::2]))
            continue
        m = re.match(r'VALUE "([^"]+)",\s*"(.*)"$', line)
        if m:
            parsed["strings"][m.group(1)] = m.group(2)
    return parsed


# --------------------------------------------------------------------------- tests on real files

def test_corpus_machine_dll_and_timestamp_match_objdump(corpus_payloads):
    for path in corpus_payloads:
        info = read_pe_info(path)
        assert info is not None, path
        ref = _objdump(path)
        assert info.machine == OBJDUMP_MACHINE[ref["format"]], path
        assert info.is_dll == ("DLL" in ref["flags"]), path
        assert info.timestamp_utc == ref["time"], path
        assert info.checksum == ref["checksum"], path
        assert info.pe32_plus == (ref["magic"] == "PE32+"), path
        assert info.platform == "x86" and info.msi_platform == "Intel"


def test_corpus_versions_match_7zip(corpus_payloads):
    compared = 0
    for path in corpus_payloads:
        info = read_pe_info(path)
        ref = version_txt(path)
        if ref is None:
            assert info.file_version is None, path
            continue
        compared += 1
        assert info.file_version == ref["FILEVERSION"], path
        assert info.product_version == ref["PRODUCTVERSION"], path
        assert list(info.translations) == ref["translations"], path
        for key in ("CompanyName", "FileVersion", "ProductVersion", "OriginalFilename", "ProductName"):
            if key in ref["strings"]:
                # 7-Zip prints the raw text; it escapes nothing for these plain values
                assert info.strings.get(key) == ref["strings"][key], (path, key)
        assert info.warnings == (), path
    assert compared >= 15


def test_corpus_versions_match_pefile_full_parse(corpus_payloads):
    """pefile's own version parser (full load) agrees with our bounded walker."""
    for path in corpus_payloads:
        info = read_pe_info(path)
        pe = pefile.PE(str(path))
        if not hasattr(pe, "VS_FIXEDFILEINFO"):
            assert info.file_version is None
            continue
        ffi = pe.VS_FIXEDFILEINFO[0]
        ms, ls = ffi.FileVersionMS, ffi.FileVersionLS
        assert info.file_version == f"{ms >> 16}.{ms & 0xFFFF}.{ls >> 16}.{ls & 0xFFFF}", path


def test_known_payload_values(corpus_payloads):
    """Spot values a person can check in Explorer's Details tab (and 7-Zip shows)."""
    by_name = {p.name: p for p in corpus_payloads}
    putty = read_pe_info(by_name["PuTTY_File"])
    assert (putty.is_dll, putty.file_version, putty.company_name) == (False, "0.68.0.0", "Simon Tatham")
    assert putty.file_version_string == "Release 0.68"  # the text differs from the binary version
    assert putty.languages == (0x0809,) and putty.language == 2057
    msdia = next(p for p in corpus_payloads if p.name.startswith("FL_msdia71"))
    info = read_pe_info(msdia)
    assert info.file_version == "8.0.50727.6195" and info.original_filename == "MSDIA80.DLL"
    deu = next(p for p in corpus_payloads if p.name.startswith("mfc80DEU.dll"))
    assert read_pe_info(deu).languages == (0x0407,)


def test_bytes_and_path_inputs_agree(corpus_payloads):
    path = corpus_payloads[0]
    assert read_pe_info(path) == read_pe_info(path.read_bytes(), name=str(path))


def test_not_a_pe_returns_none(tmp_path):
    _cabextract(corpus_file("msi_with_external_cab.cab"), tmp_path)
    wxs = tmp_path / "create_msi_with_external_cab.wxs"
    assert read_pe_info(wxs) is None
    assert read_pe_info(corpus_file("putty-0.68-installer.msi")) is None  # a CFB, not a PE
    assert read_pe_info(b"") is None
    assert read_pe_info(b"MZ" + b"\0" * 200) is None  # DOS header whose e_lfanew points at no PE
    assert not looks_like_pe(b"MZ")


def test_platform_names():
    assert [platform_name(m) for m in (0x14C, 0x8664, 0x200, 0xAA64, 0x1C0, 0x1C4)] == \
        ["x86", "x64", "IA-64", "ARM64", "ARM", "ARM"]
    assert [msi_platform_name(m) for m in (0x14C, 0x8664, 0x200, 0xAA64, 0x1C4)] == \
        ["Intel", "x64", "Intel64", "Arm64", "Arm"]
    assert platform_name(0xA641) == "unknown (0xA641)" and msi_platform_name(0xA641) is None


# --------------------------------------------------------------------------- malformed images

def _vcrt(corpus_payloads) -> bytes:
    return next(p for p in corpus_payloads if p.name.startswith("msvcr80.dll")).read_bytes()


def _resource_layout(data: bytes) -> "tuple[int, int]":
    """(file offset of the resource root, RVA of the resource root) via pefile."""
    pe = pefile.PE(data=data, fast_load=True)
    rva = pe.OPTIONAL_HEADER.DATA_DIRECTORY[2].VirtualAddress
    return pe.get_offset_from_rva(rva), rva


def _root_entries(data: bytes, root: int) -> "list[tuple[int, int, int]]":
    """(file offset of entry, name, target) for each root directory entry."""
    named, ids = struct.unpack_from("<HH", data, root + 12)
    return [(root + 16 + 8 * i, *struct.unpack_from("<II", data, root + 16 + 8 * i)) for i in range(named + ids)]


def test_truncated_images_raise_pe_error(corpus_payloads):
    data = _vcrt(corpus_payloads)
    for cut in (0x120, 0x200, 0x400, len(data) // 2):
        with pytest.raises(PeError) as caught:
            read_pe_info(data[:cut], name="cut.dll")
        message = str(caught.value)
        assert message.startswith("cut.dll: ") and "\n" not in message


def test_resource_cycle_is_detected(corpus_payloads):
    data = bytearray(_vcrt(corpus_payloads))
    root, _ = _resource_layout(bytes(data))
    entry = next(e for e in _root_entries(data, root) if e[1] == 16)
    struct.pack_into("<I", data, entry[0] + 4, 0x80000000)  # RT_VERSION -> the root itself
    with pytest.raises(PeError, match="cycle"):
        read_pe_info(bytes(data))


def test_resource_depth_and_entry_limits(corpus_payloads):
    data = _vcrt(corpus_payloads)
    with pytest.raises(LimitExceeded, match="pe_resource_depth"):
        read_pe_info(data, limits=dataclasses.replace(DEFAULT_LIMITS, pe_resource_depth=2))
    with pytest.raises(LimitExceeded, match="pe_resource_entries"):
        read_pe_info(data, limits=dataclasses.replace(DEFAULT_LIMITS, pe_resource_entries=3))
    # a root directory claiming 0xFFFF + 0xFFFF entries
    hostile = bytearray(data)
    root, _ = _resource_layout(data)
    struct.pack_into("<HH", hostile, root + 12, 0xFFFF, 0xFFFF)
    with pytest.raises(LimitExceeded, match="pe_resource_entries"):
        read_pe_info(bytes(hostile))


def test_language_level_pointing_to_a_directory_is_too_deep(corpus_payloads):
    data = bytearray(_vcrt(corpus_payloads))
    root, _ = _resource_layout(bytes(data))
    version = next(e for e in _root_entries(data, root) if e[1] == 16)
    name_dir = root + (version[2] & 0x7FFFFFFF)
    lang_dir = root + (struct.unpack_from("<I", data, name_dir + 20)[0] & 0x7FFFFFFF)
    # language entry flagged as a subdirectory: a fourth level, off the current path
    (target,) = struct.unpack_from("<I", data, lang_dir + 20)
    struct.pack_into("<I", data, lang_dir + 20, target | 0x80000000)
    with pytest.raises(LimitExceeded, match="pe_resource_depth"):
        read_pe_info(bytes(data))


def test_broken_version_strings_keep_the_fixed_version(corpus_payloads):
    data = bytearray(_vcrt(corpus_payloads))
    info = read_pe_info(bytes(data))
    pe = pefile.PE(data=bytes(data))
    blob_rva = pe.DIRECTORY_ENTRY_RESOURCE.entries[
        [e.id for e in pe.DIRECTORY_ENTRY_RESOURCE.entries].index(16)].directory.entries[0].directory.entries[0].data.struct.OffsetToData
    blob = pe.get_offset_from_rva(blob_rva)
    # first child (StringFileInfo) starts after the 92-byte header+fixed info; give it length 2
    assert data[blob + 92 + 6: blob + 92 + 6 + 28] == "StringFileInfo".encode("utf-16-le")
    struct.pack_into("<H", data, blob + 92, 2)
    broken = read_pe_info(bytes(data))
    assert broken.file_version == info.file_version
    assert broken.strings == {} and broken.warnings
    # the root block itself broken -> PeError
    struct.pack_into("<H", data, blob, 3)
    with pytest.raises(PeError, match="version block"):
        read_pe_info(bytes(data))


def test_random_corruption_never_leaks_foreign_exceptions(corpus_payloads):
    """Deterministic mutation run over headers and the resource tree."""
    data = _vcrt(corpus_payloads)
    root, _ = _resource_layout(data)
    rng = random.Random(20240611)
    outcomes = {"ok": 0, "error": 0}
    for _ in range(1500):
        mutated = bytearray(data)
        lo, hi = rng.choice([(0, 0x400), (root, root + 0x400)])
        for _ in range(rng.randint(1, 8)):
            mutated[rng.randrange(lo, hi)] = rng.randrange(256)
        try:
            read_pe_info(bytes(mutated), name="m.dll")
            outcomes["ok"] += 1
        except MsiToolsError as exc:
            assert "\n" not in str(exc)
            outcomes["error"] += 1
    assert outcomes["ok"] and outcomes["error"]
