"""Malformed cabinets: every problem is a clean MsiToolsError (CabinetError and subclasses, or
LimitExceeded), raised from Cabinet.open or from the chunk iterator of the member concerned;
never a foreign exception, and iteration goes on with the next folder.
"""
from __future__ import annotations

import dataclasses
import io
import random
import struct

import pytest

from conftest import corpus_file
from msitools.cab import Cabinet
from msitools.testing.writer.cab import FileSpec, FolderSpec, build_cabinet
from msitools.errors import CabinetError, ChecksumError, DecompressionError, LimitExceeded, MsiToolsError
from msitools.limits import DEFAULT_LIMITS

RNG = random.Random(77)
TEXT = b"".join(RNG.choice([b"lorem ", b"ipsum ", b"dolor\n", b"sit "]) for _ in range(20000))
FILES = [FileSpec("one.txt", TEXT[:50000]), FileSpec("two.txt", TEXT[50000:90000]), FileSpec("three", b"3" * 10)]


def drain(data: bytes, **options) -> "dict[str, object]":
    """Open and extract everything: name -> bytes, or the MsiToolsError the member raised."""
    cab = Cabinet.open(io.BytesIO(data), "m.cab")
    out: dict[str, object] = {}
    for member, chunks in cab.iter_members(**options):
        try:
            out[member.name] = b"".join(chunks)
        except MsiToolsError as exc:
            assert str(exc).count("\n") == 0
            out[member.name] = exc
    return out


def blocks_of(data: bytes, folder: int = 0):
    return list(Cabinet.open(io.BytesIO(data)).data_blocks(folder))


@pytest.mark.parametrize("compression", ["none", "mszip", "quantum"])
def test_every_truncation_is_a_cabinet_error(compression):
    data = build_cabinet([FolderSpec(FILES[:2] if compression != "quantum" else [FILES[2], FileSpec("q", TEXT[:3000])],
                                     compression)])
    step = max(1, len(data) // 150)
    for cut in list(range(0, 200)) + list(range(200, len(data), step)):
        try:
            result = drain(data[:cut], backend="python")
        except CabinetError as exc:
            assert str(exc).startswith("m.cab: ")
            continue
        failures = [v for v in result.values() if isinstance(v, Exception)]
        assert failures, f"cut at {cut} of {len(data)} went unnoticed"
        assert all(isinstance(v, CabinetError) for v in failures)


def test_truncated_lzx_corpus_cabinet():
    data = corpus_file("vcredis1.cab").read_bytes()
    with pytest.raises(CabinetError, match="truncated cabinet: CFFOLDER 0"):
        drain(data[:40])
    for cut in (200, 5000, 60000, len(data) - 1):
        for backend in ("python", "auto"):
            result = drain(data[:cut], backend=backend)
            (value,) = result.values()
            assert isinstance(value, CabinetError), (cut, backend)
            assert "truncated" in str(value) or "libarchive" in str(value)


def test_bad_checksum_names_cabinet_and_block_and_later_folders_still_extract():
    data = bytearray(build_cabinet([FolderSpec(FILES[:2], "mszip"), FolderSpec(FILES[2:], "mszip")]))
    third = blocks_of(bytes(data))[2]  # one.txt = bytes 0..50000 (blocks 0-1), two.txt needs block 2
    data[third.offset + 8 + 10] ^= 0x01  # a data byte of block 2 of folder 0
    result = drain(bytes(data), backend="python")
    assert result["one.txt"] == FILES[0].data
    assert isinstance(result["two.txt"], ChecksumError)
    assert str(result["two.txt"]).startswith("m.cab: checksum mismatch in data block 2 of folder 0")
    assert result["three"] == b"3" * 10  # the next folder is fine
    assert drain(bytes(data), backend="auto")["three"] == b"3" * 10


def test_checksum_error_in_first_block_marks_every_member_of_the_folder():
    data = bytearray(build_cabinet([FolderSpec(FILES[:2], "mszip"), FolderSpec(FILES[2:], "none")]))
    first = blocks_of(bytes(data))[0]
    data[first.offset] ^= 0xFF  # stored csum of block 0
    result = drain(bytes(data), backend="python")
    assert isinstance(result["one.txt"], ChecksumError)
    assert isinstance(result["two.txt"], ChecksumError) and "failed earlier" in str(result["two.txt"])
    assert result["three"] == b"3" * 10
    # without verification the data itself is fine
    assert drain(bytes(data), backend="python", verify_checksums=False)["two.txt"] == FILES[1].data


def test_libarchive_failure_falls_back_to_python_mid_member():
    """libarchive always checks checksums; with verify_checksums=False, auto resumes in Python."""
    from msitools.cab import libarchive_backend

    if not libarchive_backend.available():
        pytest.skip("libarchive-c is not installed")
    data = bytearray(build_cabinet([FolderSpec(FILES[:2], "mszip")]))
    second = blocks_of(bytes(data))[1]
    data[second.offset] ^= 0x10  # stored csum of block 1: one.txt is half delivered when libarchive fails
    strict = drain(bytes(data), backend="libarchive")
    assert isinstance(strict["one.txt"], ChecksumError) and "libarchive: Checksum error" in str(strict["one.txt"])
    result = drain(bytes(data), backend="auto", verify_checksums=False)
    assert result == {"one.txt": FILES[0].data, "two.txt": FILES[1].data}
    result = drain(bytes(data), backend="auto")
    assert isinstance(result["one.txt"], ChecksumError) and "data block 1" in str(result["one.txt"])


def _patch_block_header(data: bytes, block, *, cb_uncomp: int) -> bytes:
    patched = bytearray(data)
    struct.pack_into("<IHH", patched, block.offset, 0, block.cb_data, cb_uncomp)  # csum 0 = unchecked
    return bytes(patched)


def test_block_inflating_beyond_its_declared_size():
    data = build_cabinet([FolderSpec(FILES[:2], "mszip")])
    first = blocks_of(data)[0]
    bomb = _patch_block_header(data, first, cb_uncomp=1000)
    for backend in ("python", "auto"):
        result = drain(bomb, backend=backend)
        assert isinstance(result["one.txt"], DecompressionError)
        assert "beyond its declared size of 1000" in str(result["one.txt"])
        assert isinstance(result["two.txt"], DecompressionError)


def test_member_never_gets_more_than_its_declared_size():
    data = bytearray(build_cabinet([FolderSpec([FileSpec("big", TEXT[:60000])], "mszip")]))
    cab = Cabinet.open(io.BytesIO(bytes(data)))
    struct.pack_into("<I", data, cab.header.coff_files, 10)  # cbFile 60000 -> 10
    for backend in ("python", "auto"):
        result = drain(bytes(data), backend=backend)
        assert result == {"big": TEXT[:10]}


def test_overlapping_members_are_reported():
    data = bytearray(build_cabinet([FolderSpec(FILES, "none")]))
    cab = Cabinet.open(io.BytesIO(bytes(data)))
    second = cab.header.coff_files + 16 + len("one.txt") + 1
    struct.pack_into("<I", data, second + 4, 49000)  # two.txt now starts inside one.txt
    cab = Cabinet.open(io.BytesIO(bytes(data)))
    assert [m.offset for m in cab.list_members()] == [0, 49000, 90000]
    for backend in ("python", "auto"):
        result = drain(bytes(data), backend=backend)
        assert result["one.txt"] == FILES[0].data
        assert isinstance(result["two.txt"], CabinetError)
        assert "overlaps member 'one.txt'" in str(result["two.txt"])
        assert result["three"] == b"3" * 10


def test_member_past_the_end_of_its_folder():
    data = bytearray(build_cabinet([FolderSpec(FILES[:1], "mszip")]))
    cab = Cabinet.open(io.BytesIO(bytes(data)))
    struct.pack_into("<I", data, cab.header.coff_files, 50010)
    result = drain(bytes(data), backend="python")
    assert isinstance(result["one.txt"], CabinetError) and "data ends at 50000" in str(result["one.txt"])


def test_folder_index_out_of_range():
    data = bytearray(build_cabinet([FolderSpec(FILES, "none")]))
    cab = Cabinet.open(io.BytesIO(bytes(data)))
    struct.pack_into("<H", data, cab.header.coff_files + 8, 3)
    with pytest.raises(CabinetError, match="names folder 3, but the cabinet has 1"):
        Cabinet.open(io.BytesIO(bytes(data)), "m.cab")


def test_unknown_compression_type():
    data = bytearray(build_cabinet([FolderSpec(FILES[2:], "none")]))
    struct.pack_into("<H", data, 36 + 6, 0x0007)
    result = drain(bytes(data))
    assert isinstance(result["three"], DecompressionError) and "unknown compression type 7" in str(result["three"])


def test_limits():
    data = build_cabinet([FolderSpec(FILES, "mszip")])
    small = dataclasses.replace(DEFAULT_LIMITS, decompressed_total=40000)
    cab = Cabinet.open(io.BytesIO(data), "m.cab", limits=small)
    outcomes = {}
    for member, chunks in cab.iter_members(backend="python"):
        try:
            outcomes[member.name] = b"".join(chunks)
        except LimitExceeded as exc:
            outcomes[member.name] = exc
    assert isinstance(outcomes["one.txt"], LimitExceeded) and "decompressed_total" in str(outcomes["one.txt"])
    with pytest.raises(LimitExceeded, match="cab_files"):
        Cabinet.open(io.BytesIO(data), limits=dataclasses.replace(DEFAULT_LIMITS, cab_files=2))
    with pytest.raises(LimitExceeded, match="cab_blocks_per_folder"):
        Cabinet.open(io.BytesIO(data), limits=dataclasses.replace(DEFAULT_LIMITS, cab_blocks_per_folder=2))


def test_compression_ratio_limit():
    data = build_cabinet([FolderSpec([FileSpec("zeros", bytes(3 << 20))], "mszip")])
    cab = Cabinet.open(io.BytesIO(data), "z.cab", limits=dataclasses.replace(DEFAULT_LIMITS, compression_ratio=50))
    with pytest.raises(LimitExceeded, match="compression_ratio"):
        cab.read_member("zeros", backend="python")
    assert Cabinet.open(io.BytesIO(data)).read_member("zeros") == bytes(3 << 20)


def _mutants(data: bytes, count: int, seed: int):
    rng = random.Random(seed)
    for _ in range(count):
        mutant = bytearray(data)
        for _ in range(rng.randint(1, 4)):
            pos = rng.randrange(len(mutant))
            mutant[pos] = rng.randrange(256) if rng.random() < 0.7 else mutant[pos] ^ (1 << rng.randrange(8))
        yield bytes(mutant)


def _survives(mutant: bytes) -> None:
    try:
        drain(mutant, backend="python", verify_checksums=False)
    except MsiToolsError:
        pass


@pytest.mark.parametrize("compression", ["none", "mszip", "quantum", "lzx"])
def test_random_corruption_raises_only_our_errors(compression):
    files = [FileSpec("a", TEXT[:6000]), FileSpec("b", TEXT[6000:9000] + RNG.randbytes(2000))]
    blocks = (("aligned", 3000), ("uncompressed", 1001), ("verbatim", 4000))
    data = build_cabinet([FolderSpec(files, compression, window_bits=12 if compression == "quantum" else 15,
                                     lzx_blocks=blocks, e8_filesize=100000)])
    for mutant in _mutants(data, 250, seed=len(compression)):
        _survives(mutant)


def test_random_corruption_of_lzx_raises_only_our_errors():
    import olefile

    from msitools.container.streamname import encode_stream_name

    with olefile.OleFileIO(str(corpus_file("vcredist.msi"))) as ole:
        data = ole.openstream(encode_stream_name("_14242_policy_8_0_Microsoft_VC80_CRT_x86.msm", False)).read()
    start = Cabinet.open(io.BytesIO(data)).folders[0].coff_cab_start
    rng = random.Random(5)
    for _ in range(300):
        mutant = bytearray(data)
        for _ in range(rng.randint(1, 3)):  # corrupt the compressed data itself
            pos = rng.randrange(start + 8, len(mutant))
            mutant[pos] ^= 1 << rng.randrange(8)
        _survives(bytes(mutant))
