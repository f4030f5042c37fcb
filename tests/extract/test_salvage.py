"""Salvage with integrity: a download cut short yields its intact files byte-exact, names the damaged ones, exits 1.

The VBRuntime-like fixture is built here: a package whose two embedded cabinets form a
spanning set (a file continued from the first into the second), the compound file cut
inside the second cabinet.  Which files are intact is computed from the cabinet's own
data blocks, not written down.
"""
from __future__ import annotations

import io
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from msitools.cab import Cabinet
from msitools.container.cfb import CompoundFile
from msitools.testing.writer.package import PayloadFile, build_package
from tests.conftest import require_tool

SIZES = [20000, 35000, 3000, 60000, 12000, 40000, 8000, 30000, 25000, 5000, 14000]
DIRS = [("TARGETDIR", None, "SourceDir"), ("ProgramFilesFolder", "TARGETDIR", "PFiles"),
        ("APP", "ProgramFilesFolder", "VBRuntime")]


def _payload() -> list[PayloadFile]:
    rnd = random.Random(16)
    return [PayloadFile("APP", f"file{i:02}.bin", rnd.randbytes(n)) for i, n in enumerate(SIZES)]


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "msitools", *args], capture_output=True, text=True)


def _cabinet_streams(raw: bytes) -> list[bytes]:
    """The cabinet streams of the package, in set order."""
    with CompoundFile(raw) as cfb:
        streams = [cfb.read_stream(e) for e in cfb.walk() if e.is_stream]
    cabs = [s for s in streams if s[:4] == b"MSCF"]
    return sorted(cabs, key=lambda data: Cabinet.open(io.BytesIO(data), "c").set_index)


def _build(tmp_path: Path):
    """(whole package, package cut inside its second cabinet, {name: bytes}, names of the damaged files)."""
    files = _payload()
    built = build_package(files, directories=DIRS, max_cabinet_data=150000, compression="mszip", cabinet="vb.cab")
    whole = tmp_path / "whole" / "VBRuntime.msi"
    whole.parent.mkdir()
    built.write(whole)
    raw = whole.read_bytes()
    first, second = _cabinet_streams(raw)
    start = raw.find(second)  # the writer stores a stream in consecutive sectors
    assert start > raw.find(first) > 0, "the second cabinet is stored last, so a cut lands in it"
    cab1, cab2 = (Cabinet.open(io.BytesIO(c), n) for c, n in ((first, "vb.cab"), (second, "vb2.cab")))
    assert cab2.header.has_prev and cab2.files[0].i_folder >= 0xFFFD, "a file spans the two cabinets"
    del cab1
    last_folder = len(cab2.folders) - 1
    blocks = list(cab2.data_blocks(last_folder))
    cut = blocks[-1].offset + 8 + blocks[-1].cb_data // 2  # inside the last data block
    # the blocks before the cut deliver this much of the last folder: members reaching past it are damaged
    delivered = sum(b.cb_uncomp for b in blocks[:-1])
    damaged = {e.name for e in cab2.files if e.i_folder == last_folder and e.uoff_folder_start + e.cb_file > delivered}
    truncated = tmp_path / "VBRuntime.msi"
    truncated.write_bytes(raw[: start + cut])
    return whole, truncated, {f.file_name: f.data for f in files}, damaged


def test_truncated_spanning_package_salvages_every_intact_file(tmp_path):
    whole, truncated, expected, damaged = _build(tmp_path)
    assert damaged and len(damaged) < 4
    out = tmp_path / "out"
    proc = _run("extract", str(truncated), "-o", str(out))
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr and "unexpected" not in proc.stderr
    written = {p.name: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    intact = {k for k in expected if k not in damaged}
    assert set(written) == intact
    for name in intact:
        assert written[name] == expected[name], name  # byte-exact
    assert not list(out.rglob("*.part"))
    error = [line for line in proc.stderr.splitlines() if line.startswith("msitools: error:")]
    assert len(error) == 1
    for name in damaged:
        assert name in error[0]
    assert "truncated:" in error[0] and "bytes present" in error[0]


def test_json_report_names_each_damaged_file_with_its_reason(tmp_path):
    _whole, truncated, expected, damaged = _build(tmp_path)
    proc = _run("extract", str(truncated), "-o", str(tmp_path / "out"), "--format", "json")
    assert proc.returncode == 1
    import json

    report = json.loads(proc.stdout)
    failed = {f["file"].rsplit("\\", 1)[-1]: f["error"] for f in report["failures"]}
    assert set(failed) == damaged
    assert all("truncated" in reason for reason in failed.values())
    assert len(report["written"]) == len(expected) - len(damaged)


def test_the_whole_package_reads_the_same_with_msiinfo_and_cabextract(tmp_path):
    """msiextract (libgcab) cannot follow a cabinet set; msiinfo takes the streams out and cabextract reads the set."""
    msiinfo, cabextract = require_tool("msiinfo"), require_tool("cabextract")
    whole, _truncated, expected, _damaged = _build(tmp_path)
    streams = subprocess.run([msiinfo, "streams", str(whole)], capture_output=True, text=True, check=True).stdout
    cabs = sorted(name for name in streams.split() if name.endswith(".cab"))
    assert cabs == ["vb.cab", "vb2.cab"]
    for name in cabs:
        data = subprocess.run([msiinfo, "extract", str(whole), name], capture_output=True, check=True).stdout
        (tmp_path / name).write_bytes(data)
    theirs = tmp_path / "theirs"
    subprocess.run([cabextract, "-q", "-d", str(theirs), str(tmp_path / "vb.cab")], check=True, capture_output=True)
    assert {p.name: p.read_bytes() for p in theirs.iterdir()} == expected
    ours = _run("extract", str(whole), "-o", str(tmp_path / "ours"))
    assert ours.returncode == 0
    assert {p.name: p.read_bytes() for p in (tmp_path / "ours").rglob("*") if p.is_file()} == expected


def test_info_says_the_package_is_truncated(tmp_path):
    _whole, truncated, _expected, _damaged = _build(tmp_path)
    proc = _run("info", str(truncated))
    assert proc.returncode == 0
    assert "the file is truncated: stream 'vb2.cab' has" in proc.stdout


@pytest.mark.parametrize("keep", [1100, 4000])
def test_a_compound_file_cut_in_its_tables_says_it_looks_truncated(tmp_path, keep):
    whole, _truncated, _expected, _damaged = _build(tmp_path)
    cut = tmp_path / "cut.msi"
    cut.write_bytes(whole.read_bytes()[:keep])
    proc = _run("info", str(cut))
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "looks truncated" in lines[0] and str(cut) in lines[0]


def test_a_truncated_bare_cabinet_salvages_its_intact_members(tmp_path):
    from msitools.testing.writer.cab import FileSpec, FolderSpec, build_cabinet

    rnd = random.Random(3)
    members = [FileSpec(f"m{i}.bin", rnd.randbytes(n)) for i, n in enumerate([40000, 30000, 50000, 9000])]
    raw = build_cabinet([FolderSpec(members, compression="mszip")])
    cab = Cabinet.open(io.BytesIO(raw), "x.cab")
    last = list(cab.data_blocks(0))[-1]
    path = tmp_path / "cut.cab"
    path.write_bytes(raw[: last.offset + 20])
    proc = _run("extract", str(path), "-o", str(tmp_path / "out"))
    assert proc.returncode == 1
    written = {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir()}
    assert written == {m.name: m.data for m in members[:2]}
    assert f"truncated: {last.offset + 20:,} of {len(raw):,} bytes present" in proc.stderr
    if shutil.which("7zz"):  # 7-Zip reads the same members intact (and leaves the damaged ones half-written)
        theirs = tmp_path / "theirs"
        seven = subprocess.run(["7zz", "x", f"-o{theirs}", str(path)], capture_output=True, text=True)
        bad = {line.rsplit(" : ", 1)[-1].strip() for line in seven.stdout.splitlines() + seven.stderr.splitlines()
               if line.startswith("ERROR: Data Error")}
        assert bad == {m.name for m in members[2:]}
        assert {p.name: p.read_bytes() for p in theirs.iterdir() if p.name not in bad} == written
