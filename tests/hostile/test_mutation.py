"""Structure-aware mutation (hypothesis): damage one structure of a valid file, expect a clean outcome.

The fast, in-suite companion of the coverage-guided fuzzers (scripts/fuzz.py).
A small fixture package is taken apart into its streams; one stream -- the
string pool, _Columns, _Tables, a table, the summary information or the
embedded cabinet -- gets byte flips, boundary values, truncation or extra
bytes, and the package is rebuilt with the compound-file writer.  Cabinets
made by the cabinet writer (stored, MSZIP, LZX, Quantum) get the same
treatment in their header, folder, file and CFDATA records.  Reading the
result end to end (summary, every table, file listing, payload bytes;
cabinet members on both decode paths) may succeed or raise an
:class:`~msitools.errors.MsiToolsError`; any other exception fails the test.
"""
from __future__ import annotations

import io
import struct

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from conftest import FIXTURES
from msitools.cab import Cabinet
from msitools.testing.writer.cab import FileSpec, FolderSpec, build_cabinet
from msitools.container.cfb import CompoundFile
from msitools.errors import MsiToolsError
from msitools.payload.package import iter_package_payload
from msitools.payload.files import list_package_files
from msitools.db.package import open_package
from msitools.container.cfb_writer import CompoundFileWriter

BASE = FIXTURES / "patches" / "base.msi"
SETTINGS = settings(max_examples=60, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
BOUNDARY = [0, 1, 2, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0x8000, 0xFFFF, 0x10000, 0x7FFFFFFF, 0xFFFFFFFF]


def _package_streams():
    with CompoundFile(BASE) as cfb:
        clsid = cfb.root.clsid
        found = [(entry.name, cfb.read_stream(entry)) for entry in cfb.root.children if entry.is_stream]
    return clsid, found


CLSID, STREAMS = _package_streams()
# readable labels for the streams worth damaging (table names are stored encoded)
from msitools.container.streamname import decode_stream_name  # noqa: E402

NAMES = {decode_stream_name(name)[0]: name for name, _ in STREAMS}
TARGET_STREAMS = [n for n in ("_StringPool", "_StringData", "_Columns", "_Tables", "File", "Directory",
                              "Component", "Media", "\x05SummaryInformation", "product.cab") if n in NAMES]


@st.composite
def mutations(draw, size_hint: int):
    """A list of edits: ('flip', pos, xor), ('int', pos, width, value), ('cut', n), ('grow', bytes)."""
    edits = []
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "flip", "int", "cut", "grow"]))
        pos = draw(st.integers(0, max(0, size_hint - 1)))
        if kind == "flip":
            edits.append(("flip", pos, draw(st.integers(1, 255))))
        elif kind == "int":
            edits.append(("int", pos, draw(st.sampled_from([2, 4])), draw(st.sampled_from(BOUNDARY))))
        elif kind == "cut":
            edits.append(("cut", pos))
        else:
            edits.append(("grow", draw(st.binary(min_size=1, max_size=64))))
    return edits


def apply(data: bytes, edits, lo: int = 0, hi: "int | None" = None) -> bytes:
    """Apply *edits* with positions mapped into ``data[lo:hi]``."""
    buf = bytearray(data)
    for edit in edits:
        span = max(1, (len(buf) if hi is None else min(hi, len(buf))) - lo)
        if edit[0] == "flip":
            if buf:
                buf[min(len(buf) - 1, lo + edit[1] % span)] ^= edit[2]
        elif edit[0] == "int":
            pos = lo + edit[1] % span
            fmt = "<H" if edit[2] == 2 else "<I"
            if pos + edit[2] <= len(buf):
                struct.pack_into(fmt, buf, pos, edit[3] & (0xFFFF if edit[2] == 2 else 0xFFFFFFFF))
        elif edit[0] == "cut":
            del buf[lo + edit[1] % span:]
        elif edit[0] == "grow":
            buf += edit[1]
    return bytes(buf)


def rebuild(replaced: str, data: bytes) -> bytes:
    writer = CompoundFileWriter(CLSID)
    for name, content in STREAMS:
        writer.add_stream(name, data if name == replaced else content)
    return writer.to_bytes()


def read_everything(blob: bytes) -> None:
    """Everything a user can ask of a package; MsiToolsError is an acceptable answer."""
    try:
        with open_package(blob, name="mutated.msi") as pkg:
            pkg.summary.to_dict()
            for table in pkg.tables():
                table.records()
            listing = list_package_files(pkg)
            for item in iter_package_payload(pkg, listing=listing, backend="python"):
                for _chunk in item.chunks or ():
                    pass
    except MsiToolsError:
        pass


def test_unmutated_package_reads():
    read_everything(rebuild("", b""))
    with open_package(rebuild("", b"")) as pkg:
        assert list_package_files(pkg).files


@pytest.mark.parametrize("stream", TARGET_STREAMS, ids=[s.strip("\x05") for s in TARGET_STREAMS])
@SETTINGS
@given(data=st.data())
def test_damaged_stream(stream, data):
    raw_name = NAMES[stream]
    original = dict(STREAMS)[raw_name]
    edits = data.draw(mutations(len(original)))
    read_everything(rebuild(raw_name, apply(original, edits)))


def _column_type_offsets() -> "list[int]":
    """Offsets of every Type cell in _Columns (column-major: Table, Number, Name refs, then Type i2)."""
    raw = dict(STREAMS)[NAMES["_Columns"]]
    (pool_header,) = struct.unpack_from("<I", dict(STREAMS)[NAMES["_StringPool"]], 0)
    ref = 3 if pool_header & 0x80000000 else 2
    rows = len(raw) // (2 * ref + 4)
    start = rows * (2 * ref + 2)
    return [start + 2 * i for i in range(rows)]


@pytest.mark.parametrize("flip", [0x0800, 0x0400, 0x3000], ids=["string-bit", "short-int-bit", "key-nullable"])
def test_every_column_retyped(flip):
    """Each column in turn changes kind (string <-> integer, width, key/nullable flags) in _Columns."""
    name = NAMES["_Columns"]
    original = dict(STREAMS)[name]
    offsets = _column_type_offsets()
    assert len(offsets) > 20
    for off in offsets:
        buf = bytearray(original)
        struct.pack_into("<H", buf, off, struct.unpack_from("<H", buf, off)[0] ^ flip)
        read_everything(rebuild(name, bytes(buf)))


def _summary_type_offsets(data: bytes) -> "list[int]":
    """Offsets of the VT word of every property of the first section (property set layout, by hand)."""
    (section,) = struct.unpack_from("<I", data, 44)
    _size, count = struct.unpack_from("<II", data, section)
    return [section + struct.unpack_from("<II", data, section + 8 + 8 * i)[1] for i in range(count)]


@pytest.mark.parametrize("vt", [3, 30, 64, 2, 0x1F], ids=["I4", "LPSTR", "FILETIME", "I2", "LPWSTR"])
def test_every_summary_property_retyped(vt):
    """Each summary property in turn is given another value type."""
    name = NAMES["\x05SummaryInformation"]
    original = dict(STREAMS)[name]
    for off in _summary_type_offsets(original):
        buf = bytearray(original)
        struct.pack_into("<I", buf, off, vt)
        read_everything(rebuild(name, bytes(buf)))


# -- cabinets ---------------------------------------------------------------------------

def _cabinets() -> "dict[str, bytes]":
    text = b"".join(b"row %d of a compressible text file\r\n" % i for i in range(1200))
    other = bytes(range(256)) * 40
    files = [FileSpec("a.txt", text), FileSpec("b.bin", other)]
    return {
        "none": build_cabinet([FolderSpec(files, "none")]),
        "mszip": build_cabinet([FolderSpec(files, "mszip")]),
        "lzx": build_cabinet([FolderSpec(files, "lzx", window_bits=15,
                                         lzx_blocks=(("verbatim", 30000), ("aligned", 20000),
                                                     ("uncompressed", 9001)))]),
        "quantum": build_cabinet([FolderSpec([FileSpec("q.txt", text[:6000])], "quantum", window_bits=12)]),
    }


CABINETS = _cabinets()


def regions(cab: bytes) -> "dict[str, tuple[int, int]]":
    """Byte ranges of the cabinet's records, parsed by hand (no reserve area in these cabinets)."""
    coff_files = struct.unpack_from("<I", cab, 16)[0]
    data_start = struct.unpack_from("<I", cab, 36)[0]
    cb_data = struct.unpack_from("<H", cab, data_start + 4)[0]
    return {"header": (0, 36), "folder": (36, 44), "files": (coff_files, data_start),
            "cfdata header": (data_start, data_start + 8), "cfdata": (data_start + 8, data_start + 8 + cb_data),
            "later blocks": (data_start + 8 + cb_data, len(cab))}


def read_cabinet(blob: bytes, backend: str) -> None:
    try:
        cab = Cabinet.open(io.BytesIO(blob), "mutated.cab")
        for _member, chunks in cab.iter_members(backend=backend):
            for _chunk in chunks:
                pass
    except MsiToolsError:
        pass


@pytest.mark.parametrize("method", sorted(CABINETS))
@SETTINGS
@given(data=st.data())
def test_damaged_cabinet(method, data):
    cab = CABINETS[method]
    region = data.draw(st.sampled_from(sorted(regions(cab))))
    lo, hi = regions(cab)[region]
    edits = data.draw(mutations(max(1, hi - lo)))
    blob = apply(cab, edits, lo, hi)
    read_cabinet(blob, "python")
    if method in ("none", "mszip", "lzx"):
        read_cabinet(blob, "libarchive")
