"""The compound-file writer, checked with olefile and 7-Zip (independent readers)."""
from __future__ import annotations

import hashlib
import subprocess
import uuid
from pathlib import Path

import olefile
import pytest

from conftest import require_tool
from msitools.errors import CompoundFileError
from msitools.container.cfb_writer import CompoundFileWriter, Storage

MSI_CLSID = "{000C1084-0000-0000-C000-000000000046}"
MST_CLSID = "{000C1082-0000-0000-C000-000000000046}"


def seven_zip() -> str:
    try:
        return require_tool("7zz")
    except pytest.skip.Exception:
        return require_tool("7z")


def payload(tag: str, size: int) -> bytes:
    """Deterministic, non-repeating bytes so misplaced sectors are noticed."""
    out = bytearray()
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(f"{tag}:{counter}".encode()).digest()
        counter += 1
    return bytes(out[:size])


SIZES = [0, 1, 63, 64, 65, 511, 512, 4095, 4096, 4097, 10_000, 70_000]


def sample_writer() -> "tuple[CompoundFileWriter, dict[str, bytes]]":
    w = CompoundFileWriter(MSI_CLSID)
    expected: dict[str, bytes] = {}
    for size in SIZES:
        name = f"stream{size}"
        expected[name] = payload(name, size)
        w.add_stream(name, expected[name])
    sub = w.add_storage("Transform", MST_CLSID, state_bits=0x1234,
                        created=128389576902850000, modified=128389576902850001)
    expected["Transform/inner"] = payload("inner", 3000)
    sub.add_stream("inner", expected["Transform/inner"])
    expected["Transform/large"] = payload("large", 9000)
    sub.add_stream("large", expected["Transform/large"])
    deeper = sub.add_storage("#Nested", "{01234567-89AB-CDEF-0123-456789ABCDEF}")
    expected["Transform/#Nested/leaf"] = payload("leaf", 100)
    deeper.add_stream("leaf", expected["Transform/#Nested/leaf"])
    expected["\x05SummaryInformation"] = payload("si", 300)
    w.add_stream("\x05SummaryInformation", expected["\x05SummaryInformation"], state_bits=7)
    w.add_stream("\u4840\u3f7f\u4164\u422f\u4836", b"table")  # an encoded MSI table name
    expected["\u4840\u3f7f\u4164\u422f\u4836"] = b"table"
    return w, expected


def test_olefile_reads_streams_storages_and_clsids():
    w, expected = sample_writer()
    data = w.to_bytes()
    assert len(data) % 512 == 0
    ole = olefile.OleFileIO(data)
    streams = {"/".join(p) for p in ole.listdir(streams=True, storages=False)}
    assert streams == set(expected)
    for path, content in expected.items():
        assert ole.openstream(path).read() == content, path
        assert ole.get_size(path) == len(content)
    storages = {"/".join(p) for p in ole.listdir(streams=False, storages=True)}
    assert storages == {"Transform", "Transform/#Nested"}
    assert ole.root.clsid == MSI_CLSID[1:-1]
    assert ole.getclsid("Transform") == MST_CLSID[1:-1]
    assert ole.getclsid("Transform/#Nested") == "01234567-89AB-CDEF-0123-456789ABCDEF"
    entry = ole.direntries[ole._find("Transform")]
    assert entry.dwUserFlags == 0x1234
    assert entry.createTime == 128389576902850000
    assert entry.modifyTime == 128389576902850001
    assert ole.direntries[ole._find("\x05SummaryInformation")].dwUserFlags == 7


def test_output_is_deterministic():
    a, _ = sample_writer()
    b, _ = sample_writer()
    assert a.to_bytes() == b.to_bytes()


def test_seven_zip_lists_tests_and_extracts(tmp_path):
    tool = seven_zip()
    w, expected = sample_writer()
    path = tmp_path / "sample.cfb"
    w.write(path)
    listing = subprocess.run([tool, "l", "-slt", str(path)], capture_output=True, text=True, check=True)
    sizes = {}
    current = None
    for line in listing.stdout.splitlines():
        if line.startswith("Path = "):
            current = line[7:]
        elif line.startswith("Size = ") and current is not None:
            sizes[current] = int(line[7:] or 0)
    # 7-Zip shows \x05 names as [5]... and decodes nothing else; compare the plain ones.
    for name, content in expected.items():
        if name.startswith("\x05") or "\u4840" in name:
            continue
        assert sizes[name] == len(content), name
    check = subprocess.run([tool, "t", str(path)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "Everything is Ok" in check.stdout
    out = tmp_path / "x"
    subprocess.run([tool, "x", f"-o{out}", str(path)], capture_output=True, check=True)
    assert (out / "Transform" / "large").read_bytes() == expected["Transform/large"]
    assert (out / "stream70000").read_bytes() == expected["stream70000"]
    assert (out / "Transform" / "#Nested" / "leaf").read_bytes() == expected["Transform/#Nested/leaf"]


def _cfb_less(a: str, b: str) -> bool:
    """MS-CFB 2.6.4: shorter UTF-16 name first, then upper-cased characters."""
    la, lb = len(a.encode("utf-16-le")), len(b.encode("utf-16-le"))
    if la != lb:
        return la < lb
    return a.upper() < b.upper()


def _check_red_black(ole: olefile.OleFileIO, root_sid: int) -> int:
    """Walk one sibling tree as olefile parsed it; returns the number of nodes."""
    entries = ole.direntries
    count = 0

    def walk(sid, low, high):
        nonlocal count
        if sid == olefile.NOSTREAM:
            return 1
        count += 1
        e = entries[sid]
        if low is not None:
            assert _cfb_less(low, e.name)
        if high is not None:
            assert _cfb_less(e.name, high)
        if e.color == 0:  # red: children must be black
            for child in (e.sid_left, e.sid_right):
                if child != olefile.NOSTREAM:
                    assert entries[child].color == 1
        left = walk(e.sid_left, low, e.name)
        right = walk(e.sid_right, e.name, high)
        assert left == right, f"black heights differ under {e.name!r}"
        return left + (1 if e.color == 1 else 0)

    walk(root_sid, None, None)
    return count


@pytest.mark.parametrize("children", [1, 2, 3, 4, 5, 7, 8, 15, 16, 31, 40, 100])
def test_directory_is_a_valid_red_black_tree(children):
    w = CompoundFileWriter()
    names = [f"n{i}" for i in range(children)] + [f"LONGER_{i}" for i in range(children // 3)]
    for name in names:
        w.add_stream(name, name.encode())
    ole = olefile.OleFileIO(w.to_bytes())
    assert _check_red_black(ole, ole.root.sid_child) == len(names)
    assert {p[0] for p in ole.listdir()} == set(names)


def test_large_file_needs_difat_sectors():
    # 8 MB of data needs more than 109 FAT sectors, so the FAT list continues in DIFAT sectors.
    w = CompoundFileWriter()
    big = payload("big", 8_000_000)
    w.add_stream("big", big)
    w.add_stream("small", b"s" * 100)
    data = w.to_bytes()
    ole = olefile.OleFileIO(data)
    assert ole.num_fat_sectors > 109
    assert ole.num_difat_sectors >= 1
    assert ole.openstream("big").read() == big
    assert ole.openstream("small").read() == b"s" * 100


@pytest.mark.parametrize("size", [7_280_640, 512 * 130, 512 * 258, 512 * 13954, 512 * 14082, 512 * 30210,
                                  512 * 40])
def test_pad_to_exact_size(size, tmp_path):
    w = CompoundFileWriter(MSI_CLSID)
    w.add_stream("a", payload("a", 5000))
    w.add_stream("b", b"q" * 10)
    w.pad_to(size)
    data = w.to_bytes()
    assert len(data) == size
    ole = olefile.OleFileIO(data)
    assert ole.openstream("a").read() == payload("a", 5000)
    assert ole.openstream("b").read() == b"q" * 10
    assert ole.exists("Padding")
    if size == 7_280_640:
        path = tmp_path / "padded.cfb"
        path.write_bytes(data)
        check = subprocess.run([seven_zip(), "t", str(path)], capture_output=True, text=True)
        assert check.returncode == 0, check.stdout


def test_pad_to_every_size_in_a_range():
    # Every multiple of 512 from the minimum up is reachable, including FAT-growth jumps.
    for sectors in range(15, 400):
        w = CompoundFileWriter()
        w.add_stream("a", b"1" * 5000)
        w.pad_to(512 * sectors)
        assert len(w.to_bytes()) == 512 * sectors


def test_pad_to_rejects_impossible_sizes():
    w = CompoundFileWriter()
    w.add_stream("a", b"1" * 5000)
    with pytest.raises(CompoundFileError):
        w.pad_to(1000)
    w.pad_to(1024)
    with pytest.raises(CompoundFileError, match="without filler"):
        w.to_bytes()


def test_names_are_validated():
    w = CompoundFileWriter()
    with pytest.raises(CompoundFileError):
        w.add_stream("x" * 32, b"")
    with pytest.raises(CompoundFileError):
        w.add_stream("a/b", b"")
    w.add_stream("Name", b"")
    with pytest.raises(CompoundFileError, match="case-insensitively"):
        w.add_stream("NAME", b"")
    with pytest.raises(CompoundFileError):
        Storage("ok", clsid=b"short")


def test_clsid_forms_are_equivalent():
    text = "{000C1086-0000-0000-C000-000000000046}"
    a = CompoundFileWriter(text).to_bytes()
    b = CompoundFileWriter(uuid.UUID(text)).to_bytes()
    c = CompoundFileWriter(bytes.fromhex("86100C0000000000C000000000000046")).to_bytes()
    assert a == b == c
    assert olefile.OleFileIO(a).root.clsid == text[1:-1]


def test_empty_file_is_readable():
    data = CompoundFileWriter().to_bytes()
    ole = olefile.OleFileIO(data)
    assert ole.listdir() == []
