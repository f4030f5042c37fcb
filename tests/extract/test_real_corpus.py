"""Regression corpus: real files from other projects' test suites, checked against independent tools.

``../shared/corpus/real`` (origins in its SOURCES.md) and ``fixtures/real`` (small uuencoded cabinets,
origins in fixtures/real/SOURCES.md).  Payload is compared as multisets of (size, SHA-256) with what
cabextract or 7-Zip extract from the same input; every command on every input ends with exit 0, 1 or
2 and never with an "unexpected" error.
"""
from __future__ import annotations

import binascii
import hashlib
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from conftest import CORPUS, FIXTURES, require_tool

REAL = CORPUS / "real"
SMALL = FIXTURES / "real"
ATTACKS = FIXTURES / "attacks"
MALFORMED = Path(__file__).resolve().parent.parent / "hostile" / "malformed"


def _real(*parts: str) -> Path:
    path = REAL.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path.name} not found in {path.parent} (../shared is not beside the project)")
    return path


def _decoded(tmp_path: Path, name: str) -> Path:
    """A cabinet of fixtures/real decoded from its uuencoded text into *tmp_path*."""
    text = (SMALL / "libarchive" / f"{name}.uu").read_text()
    data = b"".join(binascii.a2b_uu(line) for line in text.splitlines()[1:] if line not in ("end", "`", ""))
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _run(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "msitools", *map(str, args)], capture_output=True, text=True)


def _multiset(root: Path) -> Counter:
    return Counter((p.stat().st_size, hashlib.sha256(p.read_bytes()).hexdigest())
                   for p in root.rglob("*") if p.is_file())


def _real_inputs() -> list[Path]:
    if not REAL.is_dir():
        return []
    return sorted(p for p in REAL.rglob("*") if p.is_file() and p.name != "SOURCES.md")


KB = "| File name | File version | File size | Date | Time | Platform |\n|---|---|---|---|---|---|\n" \
     "| nothing.dll | 1.0.0.0 | 1 | 01-Jan-2020 | 00:00 | x86 |\n"


def _assert_clean(proc: subprocess.CompletedProcess, what: str) -> None:
    assert proc.returncode in (0, 1, 2), f"{what}: exit {proc.returncode}\n{proc.stderr}"
    assert "unexpected" not in proc.stderr and "Traceback" not in proc.stderr, f"{what}: {proc.stderr}"
    if proc.returncode == 2:
        assert len(proc.stderr.strip().splitlines()) == 1, f"{what}: more than one line\n{proc.stderr}"


def _every_input(tmp_path: Path) -> list[Path]:
    small = [_decoded(tmp_path, p.name[:-3]) for p in sorted((SMALL / "libarchive").glob("*.uu"))]
    attacks = sorted(p for p in ATTACKS.iterdir() if p.is_file())
    malformed = sorted(p for p in MALFORMED.iterdir() if p.is_file() and p.suffix != ".md")
    return _real_inputs() + small + attacks + malformed


def test_no_input_crashes_any_command(tmp_path):
    """info, files, extract, review and verify on every real, fixture-real, attack and fuzzer-found input."""
    kb = tmp_path / "kb.md"
    kb.write_text(KB)
    inputs = _every_input(tmp_path)
    assert len(inputs) >= 20
    for n, path in enumerate(inputs):
        for command in (["info", path], ["files", path], ["review", path], ["verify", path, "--kb", kb],
                        ["extract", path, "-o", tmp_path / f"out{n}"]):
            _assert_clean(_run(*command), " ".join(map(str, command[:2])))


SETS = [("libmspack", "cabs", "split-1.cab"), ("libmspack", "cabs", "split-3.cab"),
        ("libmspack", "cabs", "split-5.cab"), ("libarchive", "libarchive", "test_read_format_cab_multi.p1.cab"),
        ("libarchive", "libarchive", "test_read_format_cab_multi.p2.cab")]


@pytest.mark.parametrize("parts", SETS, ids=[p[-1] for p in SETS])
def test_any_member_of_a_set_extracts_the_whole_set_as_cabextract_does(tmp_path, parts):
    cabextract = require_tool("cabextract")
    path = _real(*parts)
    first = sorted(path.parent.glob(path.name.split("-")[0] + "-1.cab" if "split" in path.name
                                    else "*multi.p1.cab"))[0]
    theirs = tmp_path / "theirs"
    subprocess.run([cabextract, "-q", "-d", str(theirs), str(first)], check=True, capture_output=True)
    proc = _run("extract", path, "-o", tmp_path / "ours")
    assert proc.returncode == 0, proc.stderr
    assert _multiset(tmp_path / "ours") == _multiset(theirs) and _multiset(theirs)
    assert "cabinet set of" in proc.stderr


def test_split_3_names_the_five_cabinets_it_found(tmp_path):
    proc = _run("extract", _real("libmspack", "cabs", "split-3.cab"), "-o", tmp_path / "out")
    assert proc.returncode == 0
    assert "cabinet set of 5: split-1.cab, split-2.cab, split-3.cab, split-4.cab, split-5.cab" in proc.stderr
    assert len(list((tmp_path / "out").iterdir())) == 6


@pytest.mark.parametrize("parts", [("wix", "history", "SimpleMerge", "test.msm"),
                                   ("wix", "CrossVersionMerge", "Module401.msm")], ids=["test.msm", "Module401.msm"])
def test_merge_modules_extract_what_7zip_finds_in_their_cabinet(tmp_path, parts):
    seven = require_tool("7zz")
    path = _real(*parts)
    streams = tmp_path / "streams"
    subprocess.run([seven, "x", f"-o{streams}", str(path)], check=True, capture_output=True)
    theirs = tmp_path / "theirs"
    subprocess.run([seven, "x", f"-o{theirs}", str(streams / "MergeModule.CABinet")], check=True,
                   capture_output=True)
    proc = _run("extract", path, "-o", tmp_path / "ours")
    assert proc.returncode == 0, proc.stderr
    assert _multiset(tmp_path / "ours") == _multiset(theirs) and _multiset(theirs)
    listing = _run("files", path, "--format", "json")
    assert listing.returncode == 0
    review = _run("review", path)
    assert review.returncode == 0


@pytest.mark.parametrize("backend", ["auto", "python"])
def test_the_invalid_lzx_history_cabinet_is_rejected(tmp_path, backend):
    path = _real("libarchive", "libarchive", "test_read_format_cab_lzx_invalid_history.cab")
    proc = _run("extract", path, "-o", tmp_path / "out", "--backend", backend)
    assert proc.returncode == 1
    assert "reaches before the start of the data" in proc.stderr
    assert not [p for p in (tmp_path / "out").rglob("*") if p.is_file()]
    if (cabextract := require_tool("cabextract")):
        assert "failed" in subprocess.run([cabextract, "-t", str(path)], capture_output=True, text=True).stdout


def test_its_valid_twin_is_accepted_as_cabextract_accepts_it(tmp_path):
    cabextract = require_tool("cabextract")
    path = _decoded(tmp_path, "test_read_format_cab_lzx_literal_control.cab")
    theirs = tmp_path / "theirs"
    subprocess.run([cabextract, "-q", "-d", str(theirs), str(path)], check=True, capture_output=True)
    proc = _run("extract", path, "-o", tmp_path / "ours")
    assert proc.returncode == 0, proc.stderr
    assert _multiset(tmp_path / "ours") == _multiset(theirs)


def test_stored_folders_match_cabextract(tmp_path):
    cabextract = require_tool("cabextract")
    path = _decoded(tmp_path, "test_read_format_cab_skip_across_folders.cab")
    theirs = tmp_path / "theirs"
    subprocess.run([cabextract, "-q", "-d", str(theirs), str(path)], check=True, capture_output=True)
    assert _run("extract", path, "-o", tmp_path / "ours").returncode == 0
    assert _multiset(tmp_path / "ours") == _multiset(theirs) and len(_multiset(theirs)) == 2


def test_a_bad_checksum_fails_the_file_as_cabextract_reports_it(tmp_path):
    cabextract = require_tool("cabextract")
    path = _real("wix3", "PerUserMsiExtCab", "HelloWorldNonAdmin_Readme_External.cab")
    test = subprocess.run([cabextract, "-t", str(path)], capture_output=True, text=True)
    assert "checksum error" in test.stdout + test.stderr
    for target in (path, path.with_suffix(".msi")):
        proc = _run("extract", target, "-o", tmp_path / target.suffix)
        assert proc.returncode == 1
        assert "Readme.txt" in proc.stderr and "checksum mismatch" in proc.stderr
        assert not [p for p in (tmp_path / target.suffix).rglob("*") if p.is_file()]


def test_hostile_names_stay_inside_the_output_folder(tmp_path):
    path = _real("libmspack", "cabs", "dirwalk-vulns.cab")
    sandbox = tmp_path / "sandbox"
    out = sandbox / "out"
    sandbox.mkdir()
    proc = _run("extract", path, "-o", out)
    assert proc.returncode == 1  # two members collide with a folder of the same name
    assert "unexpected" not in proc.stderr
    assert {p.parent for p in sandbox.rglob("*")} <= {sandbox} | {p for p in out.rglob("*")} | {out}
    assert [p for p in sandbox.iterdir()] == [out]
    written = [p for p in out.rglob("*") if p.is_file()]
    assert len(written) >= 26  # cabextract writes 26 of its 29 members
