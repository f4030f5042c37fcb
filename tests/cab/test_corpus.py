"""Real cabinets from ../shared/corpus: both decode paths against each other and against cabextract.

External cabinets: vcredis1.cab (LZX:21) and msi_with_external_cab.cab (MSZIP).
Embedded cabinets are ordinary CFB streams read with olefile directly: putty.cab
(MSZIP), the ten ``*.msm`` streams of vcredist.msi (LZX:21 / LZX:18, one with a
header reserve area) and the patch cabinets of the two MSPs (LZX:18).
"""
from __future__ import annotations

import hashlib
import io
import os
import subprocess

import olefile
import pytest

from conftest import corpus_file, require_tool
from msitools.container.streamname import encode_stream_name
from msitools.cab import Cabinet
from msitools.cab import libarchive_backend

VCREDIST_STREAMS = [
    "_14239_Microsoft_VC80_ATL_x86.msm",
    "_14240_policy_8_0_Microsoft_VC80_ATL_x86.msm",
    "_14241_Microsoft_VC80_CRT_x86.msm",
    "_14242_policy_8_0_Microsoft_VC80_CRT_x86.msm",
    "_14248_Microsoft_VC80_MFC_x86.msm",
    "_14249_policy_8_0_Microsoft_VC80_MFC_x86.msm",
    "_14250_Microsoft_VC80_MFCLOC_x86.msm",
    "_14251_policy_8_0_Microsoft_VC80_MFCLOC_x86.msm",
    "_14252_Microsoft_VC80_OpenMP_x86.msm",
    "_18900_policy_8_0_Microsoft_VC80_OpenMP_x86.msm",
]
CABINETS = (
    [("vcredis1.cab", None), ("msi_with_external_cab.cab", None),
     ("putty-0.68-installer.msi", "putty.cab"),
     ("WPF2_32.msp", "PCW_CAB_NetFX"), ("SQL2008_AS.msp", "PCW_CAB_Family01")]
    + [("vcredist.msi", name) for name in VCREDIST_STREAMS]
)
IDS = [stream or package for package, stream in CABINETS]


def cabinet_bytes(package: str, stream: "str | None") -> bytes:
    path = corpus_file(package)
    if stream is None:
        return path.read_bytes()
    with olefile.OleFileIO(str(path)) as ole:
        with ole.openstream(encode_stream_name(stream, False)) as handle:
            return handle.read()


def digests(cab: Cabinet, backend: str, verify: bool = True) -> "dict[str, tuple[int, str]]":
    out = {}
    for member, chunks in cab.iter_members(backend=backend, verify_checksums=verify):
        digest = hashlib.sha256()
        size = 0
        for chunk in chunks:
            digest.update(chunk)
            size += len(chunk)
        assert size == member.size
        out[member.name] = (size, digest.hexdigest())
    return out


def cabextract_digests(data: bytes, tmp_path) -> "dict[str, tuple[int, str]]":
    tool = require_tool("cabextract")
    source = tmp_path / "in.cab"
    source.write_bytes(data)
    out = tmp_path / "out"
    subprocess.run([tool, "-q", "-d", str(out), str(source)], check=True, capture_output=True)
    result = {}
    for root, _dirs, files in os.walk(out):
        for name in files:
            path = os.path.join(root, name)
            blob = open(path, "rb").read()
            key = os.path.relpath(path, out).replace(os.sep, "\\")
            result[key] = (len(blob), hashlib.sha256(blob).hexdigest())
    return result


def cabextract_listing(data: bytes, tmp_path) -> "list[tuple[int, str]]":
    tool = require_tool("cabextract")
    source = tmp_path / "list.cab"
    source.write_bytes(data)
    text = subprocess.run([tool, "-l", str(source)], check=True, capture_output=True, text=True).stdout
    rows = []
    for line in text.splitlines():
        parts = line.split(" | ")
        if len(parts) == 3 and parts[0].strip().isdigit():
            rows.append((int(parts[0]), parts[1].strip(), parts[2].strip()))
    return rows


@pytest.mark.parametrize("package,stream", CABINETS, ids=IDS)
def test_python_path_matches_cabextract(package, stream, tmp_path):
    data = cabinet_bytes(package, stream)
    cab = Cabinet.open(io.BytesIO(data), stream or package)
    ours = digests(cab, "python")
    assert len(ours) == len(cab.files)
    assert ours == cabextract_digests(data, tmp_path)


@pytest.mark.parametrize("package,stream", CABINETS, ids=IDS)
def test_listing_matches_cabextract(package, stream, tmp_path):
    data = cabinet_bytes(package, stream)
    cab = Cabinet.open(io.BytesIO(data), stream or package)
    listing = cabextract_listing(data, tmp_path)
    ours = [(m.size, m.date_time.strftime("%d.%m.%Y %H:%M:%S"), m.name.replace("\\", "/")) for m in cab.list_members()]
    assert sorted(ours) == sorted(listing)


@pytest.mark.parametrize("package,stream", CABINETS, ids=IDS)
def test_libarchive_path_matches_python_path(package, stream):
    if not libarchive_backend.available():
        pytest.skip("libarchive-c is not installed")
    data = cabinet_bytes(package, stream)
    cab = Cabinet.open(io.BytesIO(data), stream or package)
    assert libarchive_backend.unsuitable(cab.as_set()) is None
    assert digests(cab, "libarchive") == digests(cab, "python") == digests(cab, "auto")


def test_libarchive_reads_from_a_real_file_descriptor_and_from_an_offset(tmp_path):
    if not libarchive_backend.available():
        pytest.skip("libarchive-c is not installed")
    data = cabinet_bytes("vcredis1.cab", None)
    with Cabinet.from_path(corpus_file("vcredis1.cab")) as cab:  # fd path
        by_fd = digests(cab, "libarchive")
    shifted = io.BytesIO(b"\0" * 1000 + data)  # cabinet not at offset 0: stream path
    shifted.seek(1000)
    by_stream = digests(Cabinet.open(shifted, "shifted.cab"), "libarchive")
    assert by_fd == by_stream == digests(Cabinet.open(io.BytesIO(data), "x"), "python")


def test_reserve_area_cabinet_is_the_one_with_a_header_reserve():
    data = cabinet_bytes("vcredist.msi", "_14239_Microsoft_VC80_ATL_x86.msm")
    cab = Cabinet.open(io.BytesIO(data), "atl")
    assert cab.header.reserve_present and cab.header.cb_cf_header == 8
    assert [f.describe() for f in cab.folders] == ["LZX:18"]


def test_member_metadata_matches_lessmsi_listing():
    """putty.cab members against lessmsi's published extraction listing (size, timestamp)."""
    import datetime as dt

    expected_csv = corpus_file("putty-0.68-installer.msi.expected.csv").read_text(encoding="utf-8-sig")
    expected = []
    for line in expected_csv.splitlines()[1:]:
        fields = line.split(",")
        expected.append((int(fields[1]), dt.datetime.fromisoformat(fields[3][:19])))
    cab = Cabinet.open(io.BytesIO(cabinet_bytes("putty-0.68-installer.msi", "putty.cab")), "putty.cab")
    assert sorted((m.size, m.date_time) for m in cab.list_members()) == sorted(expected)
