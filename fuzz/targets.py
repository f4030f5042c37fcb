"""Fuzz targets: one function per parser, each taking the fuzzer's bytes.

A target returns normally for accepted input and for a clean library error
(:class:`msitools.errors.MsiToolsError`, LimitExceeded included); anything
else propagates and is a finding.  ``TARGETS`` maps each name to its
function and the largest input the fuzzer should try (``max_len``).

Targets import msitools lazily (inside :func:`setup`) so that
``fuzz/run_target.py`` can instrument the imports for coverage first.
"""
from __future__ import annotations

import io
import os
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
KB_TABLE = FIXTURES / "kb2586709" / "kb2586709.txt"
TRANSFORM_BASE = FIXTURES / "patches" / "base.msi"

_state: dict = {}
MAX_FRAMES = 8  # decoder targets: frames per input (each up to 32 KiB of output)
MAX_QUANTUM_FRAMES = 3  # the Quantum decoder is the slowest: fewer frames, more executions


def setup() -> None:
    """Import msitools and load what targets share (a base schema, the published table)."""
    if _state:
        return
    from msitools.errors import MsiToolsError
    from msitools.kb import parse_file
    from msitools.db.package import open_package

    _state["error"] = MsiToolsError
    base = open_package(TRANSFORM_BASE)
    _state["base"] = base
    _state["base_schemas"] = {name: base.database.schema(name) for name in base.database.table_names}
    _state["published"] = parse_file(KB_TABLE)
    _state["tmp"] = tempfile.mkdtemp(prefix="msitools-fuzz-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)


def _cfb_bytes(data: bytes) -> "bytes | None":
    """A compound file: the input itself, or the one its stream container describes."""
    from fuzz import streams

    if streams.is_container(data):
        return streams.build(data)
    return data


# -- compound file, database, summary, transform -----------------------------------------

def fuzz_cfb(data: bytes) -> None:
    from msitools.container.cfb import CompoundFile

    try:
        with CompoundFile(data, name="fuzz") as cfb:
            for entry in cfb.walk():
                if entry.is_stream:
                    with cfb.open_stream(entry) as reader:
                        reader.read(100)
                        reader.seek(max(0, entry.size - 7))
                        reader.read()
    except _state["error"]:
        pass


def fuzz_database(data: bytes) -> None:
    from msitools.payload.files import list_package_files
    from msitools.db.package import open_package
    from msitools.patch.msp import Msp
    from msitools.patch.report import patch_report

    blob = _cfb_bytes(data)
    if blob is None:
        return
    try:
        with open_package(blob, name="fuzz") as pkg:
            pkg.summary.to_dict()
            if pkg.database is not None:
                for table in pkg.tables():
                    table.records()
                    table.index()
            if pkg.kind in ("msi", "msm"):
                list_package_files(pkg)
            elif pkg.kind == "msp":
                patch_report(Msp(pkg))
    except _state["error"]:
        pass


def fuzz_summary(data: bytes) -> None:
    from msitools.db.summary import SummaryInformation

    for kind in ("msi", "msp", "mst"):
        try:
            summary = SummaryInformation.parse(data, kind, "fuzz")
            summary.to_dict()
            summary.raw_dict()
        except _state["error"]:
            pass


def fuzz_transform(data: bytes) -> None:
    from msitools.container.cfb import CompoundFile
    from msitools.db.patched import PatchedDatabase
    from msitools.db.transform import Transform, transform_report

    blob = _cfb_bytes(data)
    if blob is None:
        return
    try:
        with CompoundFile(blob, name="fuzz") as cfb:
            transform = Transform(cfb, cfb.root, "fuzz", "fuzz")
            transform_report(transform)
            transform.changes(_state["base_schemas"])
            transform_report(transform, _state["base"].database)
            view = PatchedDatabase(_state["base"])
            view.apply(transform, "fuzz")
            for name in view.table_names:
                view.records(name)
    except _state["error"]:
        pass


# -- cabinets and their decoders -----------------------------------------------------------

def _cabinet(data: bytes, backend: str) -> None:
    from msitools.cab import Cabinet

    try:
        cab = Cabinet.open(io.BytesIO(data), "fuzz.cab")
        cab.list_members()
        for _member, chunks in cab.iter_members(backend=backend):
            for _chunk in chunks:
                pass
    except _state["error"]:
        pass


def fuzz_cab_python(data: bytes) -> None:
    _cabinet(data, "python")


def fuzz_cab_libarchive(data: bytes) -> None:
    _cabinet(data, "libarchive")


def frames(data: bytes, limit: int = MAX_FRAMES) -> "tuple[int, list[tuple[bytes, int]]]":
    """Decoder input: a parameter byte, then frames of ``u16 data length, u16 out_size - 1, data``."""
    param = data[0] if data else 0
    pos = 1
    out = []
    while pos + 4 <= len(data) and len(out) < limit:
        length, size = struct.unpack_from("<HH", data, pos)
        pos += 4
        out.append((data[pos:pos + length], (size & 0x7FFF) + 1))
        pos += length
    return param, out


def pack_frames(param: int, blocks: "list[tuple[bytes, int]]") -> bytes:
    """Inverse of :func:`frames` (for seeds)."""
    out = bytearray([param])
    for block, size in blocks:
        out += struct.pack("<HH", len(block), size - 1) + block
    return bytes(out)


def _decode_frames(decoder_factory, data: bytes, limit: int = MAX_FRAMES) -> None:
    param, blocks = frames(data, limit)
    try:
        decoder = decoder_factory(param)
        for block, size in blocks:
            out = decoder.decode(block, size)
            if len(out) != size:
                raise AssertionError(f"decoder returned {len(out)} bytes for a frame of {size}")
    except _state["error"]:
        pass


def fuzz_lzx(data: bytes) -> None:
    from msitools.cab.lzx import LzxDecoder

    _decode_frames(lambda p: LzxDecoder(15 + p % 7), data)


def fuzz_mszip(data: bytes) -> None:
    from msitools.cab.mszip import MszipDecoder

    _decode_frames(lambda p: MszipDecoder(), data)


def fuzz_quantum(data: bytes) -> None:
    from msitools.cab.quantum import QuantumDecoder

    _decode_frames(lambda p: QuantumDecoder(10 + p % 12), data, MAX_QUANTUM_FRAMES)


# -- PE, containers, published tables, verify, delta headers --------------------------------

def fuzz_container(data: bytes) -> None:
    """inspect_exe (PE layout, Burn section, CABINET resource, overlay scan), then every member."""
    from msitools.payload.exe import ExePayload, inspect_exe

    try:
        inspect_exe(io.BytesIO(data), len(data), "fuzz.exe")
    except _state["error"]:
        return
    with tempfile.NamedTemporaryFile(suffix=".exe", delete=False) as fh:
        fh.write(data)
    try:
        with ExePayload(fh.name) as walk:
            walk.listing()
            for item in walk:
                if item.chunks is not None:
                    for _ in item.chunks:
                        pass
    except _state["error"]:
        pass
    finally:
        os.unlink(fh.name)


def fuzz_pe(data: bytes) -> None:
    from msitools.pe.image import read_pe_info

    try:
        info = read_pe_info(data, "fuzz.exe")
        if info is not None:
            info.file_version_string, info.product_version_string, info.languages, info.timestamp_utc
    except _state["error"]:
        pass


def fuzz_kb(data: bytes) -> None:
    from msitools.kb import FORMATS, parse_table

    if not data:
        return
    fmt = FORMATS[data[0] % len(FORMATS)]
    text = data[1:].decode("utf-8", "replace")
    try:
        parse_table(text, "fuzz.txt", fmt).to_dict()
    except _state["error"]:
        pass


def fuzz_verify(data: bytes) -> None:
    from msitools.verify import verify

    blob = _cfb_bytes(data)
    if blob is None:
        return
    path = os.path.join(_state["tmp"], "hotfix.msi")
    with open(path, "wb") as handle:
        handle.write(blob)
    try:
        verify(path, _state["published"], depth=1)
    except _state["error"]:
        pass


def fuzz_delta(data: bytes) -> None:
    from msitools.patch.delta import parse_delta

    try:
        parse_delta(data, "fuzz").to_dict()
    except _state["error"]:
        pass


@dataclass(frozen=True)
class Target:
    name: str
    function: Callable[[bytes], None]
    max_len: int
    doc: str


TARGETS = {t.name: t for t in (
    Target("cfb", fuzz_cfb, 128 * 1024, "CompoundFile, walk, read every stream"),
    Target("database", fuzz_database, 256 * 1024, "open_package, every table, summary, file listing, patch report"),
    Target("summary", fuzz_summary, 8 * 1024, "SummaryInformation.parse as msi/msp/mst"),
    Target("transform", fuzz_transform, 64 * 1024, "Transform with and without a base schema, applied to a view"),
    Target("cab_python", fuzz_cab_python, 128 * 1024, "Cabinet.open + iter_members, Python decoders"),
    Target("cab_libarchive", fuzz_cab_libarchive, 128 * 1024, "Cabinet.open + iter_members, libarchive"),
    Target("lzx", fuzz_lzx, 128 * 1024, "LzxDecoder on framed blocks"),
    Target("mszip", fuzz_mszip, 128 * 1024, "MszipDecoder on framed blocks"),
    Target("quantum", fuzz_quantum, 64 * 1024, "QuantumDecoder on framed blocks"),
    Target("pe", fuzz_pe, 64 * 1024, "read_pe_info"),
    Target("container", fuzz_container, 64 * 1024, "inspect_exe + ExePayload (SFX, IExpress, Burn)"),
    Target("kb", fuzz_kb, 16 * 1024, "kb.parse_table in every format"),
    Target("verify", fuzz_verify, 1024 * 1024, "verify against the KB 2586709 table"),
    Target("delta", fuzz_delta, 4 * 1024, "parse_delta (PA19/PA30 headers)"),
)}
