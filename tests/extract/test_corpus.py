"""Extraction of the corpus packages against lessmsi's published listings and the reference tools.

* paths (under SourceDir) and sizes equal the ``*.expected.csv`` files from lessmsi's test suite;
* the bytes equal what ``cabextract`` produces for the same cabinet members;
* the libarchive and the pure-Python decoders give the same bytes.
"""
from __future__ import annotations

import csv
import hashlib
import os
import subprocess
from pathlib import Path

import pytest

from msitools import open_package
from msitools.extract import extract
from msitools.payload.files import list_package_files

from conftest import corpus_file, require_tool

EXPECTED = ["putty-0.68-installer.msi", "msi_with_external_cab.msi", "vcredist.msi"]


def expected_listing(name: str) -> "set[tuple[str, int]]":
    path = corpus_file(name + ".expected.csv")
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return {(row["Path"].lstrip("\\").replace("\\", "/"), int(row["Size"])) for row in csv.DictReader(fh)}


def written_listing(out: Path) -> "set[tuple[str, int]]":
    return {(p.relative_to(out).as_posix(), p.stat().st_size) for p in out.rglob("*") if p.is_file()}


@pytest.mark.parametrize("name", EXPECTED)
def test_extract_matches_lessmsi_listing(name, tmp_path):
    pkg = corpus_file(name)
    report = extract(pkg, tmp_path / "out")
    assert report.ok, report.failures
    assert written_listing(tmp_path / "out") == expected_listing(name)


def sha(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@pytest.mark.parametrize("name", EXPECTED)
def test_extracted_bytes_match_cabextract(name, tmp_path):
    cabextract = require_tool("cabextract")
    pkg_path = corpus_file(name)
    report = extract(pkg_path, tmp_path / "out")
    by_key = {}
    with open_package(pkg_path) as pkg:
        listing = list_package_files(pkg)
        for f in listing.files:
            by_key[f.key] = f
        cab_dir = tmp_path / "cabs"
        cab_dir.mkdir()
        for medium in listing.media:
            if not medium.cabinet_name:
                continue
            if medium.embedded:
                (cab_dir / medium.cabinet_name).write_bytes(pkg.read_stream(medium.cabinet_name))
            else:
                (cab_dir / medium.cabinet_name).write_bytes((pkg_path.parent / medium.cabinet_name).read_bytes())
    ref = tmp_path / "ref"
    ref.mkdir()
    for cab in cab_dir.iterdir():
        subprocess.run([cabextract, "-q", "-d", str(ref / cab.name), str(cab)], check=True, capture_output=True)
    ref_by_member = {p.name: p for p in ref.rglob("*") if p.is_file()}
    checked = 0
    for written in report.written:
        key = written.source.rsplit(" > ", 1)[-1]
        assert sha(written.path) == sha(ref_by_member[key]), written.name
        checked += 1
    assert checked == len(by_key)


@pytest.mark.parametrize("name", EXPECTED)
def test_python_and_libarchive_paths_agree(name, tmp_path):
    pytest.importorskip("libarchive")
    pkg = corpus_file(name)
    py = extract(pkg, tmp_path / "py", backend="python")
    la = extract(pkg, tmp_path / "la", backend="libarchive")
    assert py.ok and la.ok
    a = {(Path(w.path).relative_to(tmp_path / "py").as_posix(), sha(w.path)) for w in py.written}
    b = {(Path(w.path).relative_to(tmp_path / "la").as_posix(), sha(w.path)) for w in la.written}
    assert a == b
