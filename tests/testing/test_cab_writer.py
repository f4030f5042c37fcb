"""Cabinets written by msitools.testing.writer.cab, read back by cabextract, gcab and our reader.

Also: the gcab-made fixture (fixtures/cab/gcab_mszip.cab) and a fresh
``gcab -c -z`` cabinet, read by our reader and compared with cabextract.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import io
import os
import random
import subprocess

import pytest

from conftest import FIXTURES, require_tool
from msitools.cab import Cabinet, CabinetSet, directory_resolver
from msitools.testing.writer.cab import FileSpec, FolderSpec, build_cabinet, write_cabinet_set

RNG = random.Random(20240229)


def _text(size: int) -> bytes:
    words = [b"alpha ", b"beta ", b"gamma ", b"delta\n", b"cabinet ", b"folder ", b"\t"]
    out = bytearray()
    while len(out) < size:
        out += RNG.choice(words)
    return bytes(out[:size])


def _noise(size: int) -> bytes:
    return RNG.randbytes(size)


FILES = [
    FileSpec("small.txt", _text(1000)),
    FileSpec("dir\\noise.bin", _noise(70000)),
    FileSpec("big.txt", _text(150000), date_time=dt.datetime(2001, 2, 3, 4, 5, 6)),
    FileSpec("empty.dat", b""),
    FileSpec("ünïcode-名前.txt", b"utf-8 name\n"),
    FileSpec("zeros.bin", bytes(40000), attributes=0x21),
]
# E8 (x86 CALL) opcodes with relative targets near and far, for the E8 translation
X86_FILES = [
    FileSpec("code.bin", b"".join(
        RNG.choice([b"\x55\x8b\xec", b"\xe8" + RNG.randbytes(2) + b"\x00\x00", b"\xe8\xf0\xff\xff\xff",
                    b"\xe8" + RNG.randbytes(4), b"\xc3\x90", b"\xe8"]) for _ in range(30000))),
    FileSpec("tail.bin", b"\xe8\x01\x02\x03\x04" * 3),
]
# Quantum is coded bit by bit in Python: smaller, but still several frames and a short last one
Q_FILES = [
    FileSpec("q-small.txt", _text(3000)),
    FileSpec("q-noise.bin", _noise(9000)),
    FileSpec("q-text.txt", _text(60000)),
    FileSpec("q-empty", b""),
    FileSpec("q-zeros.bin", bytes(5000)),
]


def _tree_digest(root: str) -> "dict[str, str]":
    out = {}
    for folder, _dirs, names in os.walk(root):
        for name in names:
            path = os.path.join(folder, name)
            key = os.path.relpath(path, root).replace(os.sep, "\\")
            out[key] = hashlib.sha256(open(path, "rb").read()).hexdigest()
    return out


def _digest(files: "dict[str, bytes]") -> "dict[str, str]":
    return {name: hashlib.sha256(data).hexdigest() for name, data in files.items()}


def cabextract_all(first: str, out: str) -> "dict[str, str]":
    tool = require_tool("cabextract")
    run = subprocess.run([tool, "-d", out, first], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    return _tree_digest(out)


def ours(cabset, backend: str = "python") -> "dict[str, bytes]":
    return {m.name: b"".join(chunks) for m, chunks in cabset.iter_members(backend=backend)}


LAYOUTS = {
    "stored": dict(folders=[FolderSpec(FILES)]),
    "mszip-two-folders": dict(folders=[FolderSpec(FILES[:3], "mszip"), FolderSpec(FILES[3:], "mszip")]),
    "mixed-folders": dict(folders=[FolderSpec(FILES[:2], "none"), FolderSpec(FILES[2:], "mszip", level=1)]),
    "reserves": dict(
        folders=[FolderSpec(FILES[:2], "mszip", reserve=b"F0"), FolderSpec(FILES[2:], "none", reserve=b"F1")],
        header_reserve=b"H" * 600, folder_reserve_size=2, data_reserve=b"\x01\x02\x03\x04\x05",
    ),
    "quantum-10": dict(folders=[FolderSpec(Q_FILES, "quantum", window_bits=10)]),
    "quantum-15": dict(folders=[FolderSpec(Q_FILES[:3], "quantum", window_bits=15)]),
    "quantum-21": dict(folders=[FolderSpec(Q_FILES, "quantum", window_bits=21), FolderSpec(FILES[:1], "mszip")]),
    # LZX from the fixture encoder: window sizes the corpus lacks, every block kind,
    # odd-sized uncompressed blocks, blocks spanning frames, E8 translation
    **{f"lzx-{bits}": dict(folders=[FolderSpec(FILES, "lzx", window_bits=bits)]) for bits in range(15, 22)},
    "lzx-block-kinds": dict(folders=[FolderSpec(FILES, "lzx", window_bits=17, lzx_blocks=(
        ("uncompressed", 5001), ("verbatim", 20000), ("aligned", 50001), ("uncompressed", 40001)))]),
    "lzx-e8": dict(folders=[FolderSpec(X86_FILES, "lzx", window_bits=16, e8_filesize=12_000_000,
                                       lzx_blocks=(("aligned", 70000), ("verbatim", 30000)))]),
    "lzx-e8-small-filesize": dict(folders=[FolderSpec(X86_FILES, "lzx", window_bits=21, e8_filesize=5000)]),
}


def _build(layout: str) -> bytes:
    options = dict(LAYOUTS[layout])
    return build_cabinet(options.pop("folders"), **options)


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_single_cabinets_read_by_cabextract_and_by_us(layout, tmp_path):
    data = _build(layout)
    (tmp_path / "w.cab").write_bytes(data)
    expected = {}
    for folder in LAYOUTS[layout]["folders"]:
        expected.update({f.name: f.data for f in folder.files})
    assert cabextract_all(str(tmp_path / "w.cab"), str(tmp_path / "out")) == _digest(expected)
    cab = Cabinet.open(io.BytesIO(data), "w.cab")
    assert ours(cab, "python") == expected
    assert ours(cab, "auto") == expected
    assert cab.header.reserve_present == (layout == "reserves")


@pytest.mark.parametrize("layout", ["stored", "mszip-two-folders", "mixed-folders", "reserves"])
def test_single_cabinets_read_by_gcab(layout, tmp_path):
    gcab = require_tool("gcab")
    (tmp_path / "w.cab").write_bytes(_build(layout))
    out = tmp_path / "gcab-out"
    out.mkdir()
    subprocess.run([gcab, "-x", "-C", str(out), str(tmp_path / "w.cab")], check=True, capture_output=True)
    expected = {}
    for folder in LAYOUTS[layout]["folders"]:
        expected.update({f.name: f.data for f in folder.files})
    assert _tree_digest(str(out)) == _digest(expected)
    listing = subprocess.run([gcab, "-l", "-v", str(tmp_path / "w.cab")], check=True, capture_output=True,
                             text=True).stdout
    assert "big.txt 150000 2001-02-03 04:05:06" in listing


def test_output_is_deterministic():
    assert _build("mszip-two-folders") == _build("mszip-two-folders")
    assert _build("quantum-10") == _build("quantum-10")
    assert _build("lzx-block-kinds") == _build("lzx-block-kinds")


SET_FILES = [
    FileSpec("a.txt", _text(5000)),
    FileSpec("spans-three.bin", _noise(150000)),  # noise does not compress: crosses two cabinet boundaries
    FileSpec("b.txt", _text(20000)),
    FileSpec("c.bin", _noise(30000)),
]


@pytest.mark.parametrize("compression", ["none", "mszip", "lzx"])
def test_split_sets_read_by_cabextract_and_by_us(compression, tmp_path):
    paths = write_cabinet_set(tmp_path, [FolderSpec(SET_FILES, compression)], max_data_per_cabinet=60000,
                              names=lambda i: f"DISK{i + 1}.CAB")
    assert len(paths) >= 3
    cabs = [Cabinet.from_path(p) for p in paths]
    i_folders = {(c.name.rsplit(os.sep, 1)[-1], f.name): f.i_folder for c in cabs for f in c.files}
    assert i_folders[("DISK1.CAB", "spans-three.bin")] == 0xFFFE
    assert i_folders[("DISK2.CAB", "spans-three.bin")] == 0xFFFF
    assert i_folders[("DISK3.CAB", "spans-three.bin")] == 0xFFFD
    expected = {f.name: f.data for f in SET_FILES}
    assert cabextract_all(paths[0], str(tmp_path / "out")) == _digest(expected)
    # the same set, given as a list and through a resolver
    by_list = CabinetSet(cabs)
    assert ours(by_list) == expected
    assert [m.name for m in by_list.list_members()] == [f.name for f in SET_FILES]
    with Cabinet.from_path(paths[0]) as first, CabinetSet(first, resolver=directory_resolver(tmp_path)) as chained:
        assert len(chained.cabinets) == len(paths)
        assert ours(chained, "auto") == expected
    for cab in cabs:
        cab.close()


def test_resolver_is_case_insensitive_and_refuses_paths(tmp_path):
    paths = write_cabinet_set(tmp_path, [FolderSpec(SET_FILES[:2], "none")], max_data_per_cabinet=100000,
                              names=["one.cab", "Two.CAB"])
    os.rename(paths[1], tmp_path / "two.cab")
    resolve = directory_resolver(tmp_path)
    assert resolve("TWO.cab") is not None
    assert resolve("../two.cab") is None and resolve("sub/two.cab") is None and resolve("..") is None
    with Cabinet.from_path(paths[0]) as first, CabinetSet(first, resolver=resolve) as chained:
        assert ours(chained)["spans-three.bin"] == SET_FILES[1].data


def test_gcab_fixture_matches_cabextract(tmp_path):
    path = FIXTURES / "cab" / "gcab_mszip.cab"
    with Cabinet.from_path(path) as cab:
        assert [f.describe() for f in cab.folders] == ["MSZIP"]
        got = ours(cab)
        assert cab.list_members()[0].date_time == dt.datetime(2020, 2, 2, 10, 20, 30)
    assert _digest(got) == cabextract_all(str(path), str(tmp_path / "out"))
    assert got["hello.txt"] == b"hello from gcab\n"


def test_fresh_gcab_cabinet(tmp_path):
    gcab = require_tool("gcab")
    src = tmp_path / "src"
    src.mkdir()
    contents = {"one.txt": _text(90000), "two.bin": _noise(40000), "three.txt": b"3\n"}
    for name, data in contents.items():
        (src / name).write_bytes(data)
    cab_path = tmp_path / "fresh.cab"
    subprocess.run([gcab, "-c", "-z", str(cab_path), *contents], cwd=src, check=True, capture_output=True)
    with Cabinet.from_path(cab_path) as cab:
        assert ours(cab, "python") == contents
        assert ours(cab, "auto") == contents


def test_cabextract_checks_the_checksums_we_write(tmp_path):
    """cabextract accepts our checksums and rejects a corrupted one: they are really checked."""
    tool = require_tool("cabextract")
    data = bytearray(build_cabinet([FolderSpec(FILES[:2], "mszip")]))
    good = tmp_path / "good.cab"
    good.write_bytes(bytes(data))
    assert subprocess.run([tool, "-t", str(good)], capture_output=True).returncode == 0
    cab = Cabinet.open(io.BytesIO(bytes(data)))
    first_block = next(cab.data_blocks(0))
    data[first_block.offset] ^= 0x55  # csum of block 0
    bad = tmp_path / "bad.cab"
    bad.write_bytes(bytes(data))
    assert subprocess.run([tool, "-t", str(bad)], capture_output=True).returncode != 0


@pytest.mark.parametrize("seed", range(10))
def test_random_lzx_layouts_agree_with_cabextract(seed, tmp_path):
    """Random block plans, sizes and windows from the fixture encoder: cabextract decides."""
    rng = random.Random(seed)
    kinds = ["verbatim", "aligned", "uncompressed"]
    plan = tuple((rng.choice(kinds), rng.choice([999, 4096, 32767, 32768, 32769, 50001]))
                 for _ in range(rng.randint(1, 4)))
    plan += tuple(("uncompressed", size) for size in rng.sample([1, 2, 7, 31], rng.randint(0, 2)))
    pieces = [rng.randbytes(rng.randint(0, 9000)), _text(rng.randint(0, 70000)), bytes(rng.randint(0, 5000)),
              b"\xe8" * rng.randint(0, 50), X86_FILES[0].data[: rng.randint(0, 40000)]]
    files = [FileSpec(f"f{i}", piece) for i, piece in enumerate(pieces)]
    spec = FolderSpec(files, "lzx", window_bits=rng.randint(15, 21), lzx_blocks=plan,
                      e8_filesize=rng.choice([0, 0, 1000, 12_000_000]))
    data = build_cabinet([spec])
    (tmp_path / "r.cab").write_bytes(data)
    expected = {f.name: f.data for f in files}
    assert cabextract_all(str(tmp_path / "r.cab"), str(tmp_path / "out")) == _digest(expected), plan
    assert ours(Cabinet.open(io.BytesIO(data), "r.cab")) == expected, plan
