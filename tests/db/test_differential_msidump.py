"""Differential tests: our reader against GNOME msitools (msidump, msiinfo), an independent C reader.

For every corpus package and every MSI fixture: each table exported by
``msidump`` equals ``msitools table --format idt``, and the summary equals what
``msiinfo suminfo`` prints.  Documented formatting differences:

* msidump writes UTF-8; our IDT is in the database codepage (we compare text);
* msidump appends a NUL byte to ``_ForceCodepage.idt`` (a msidump quirk);
* msiinfo prints times with ctime() in the local zone (we run it with TZ=UTC).
"""
from __future__ import annotations

import os
import subprocess
from datetime import datetime, timezone
from pathlib import Path

import pytest

from click.testing import CliRunner

from msitools import open_package
from msitools.cli import cli
from msitools.base import codepage as cp
from msitools.db import idt

from conftest import CORPUS_PACKAGES, FIXTURES, corpus_file, require_tool


def fixture_packages() -> "list[Path]":
    if not FIXTURES.exists():
        return []
    return sorted(p for p in FIXTURES.rglob("*") if p.suffix.lower() in (".msi", ".msp", ".msm")
                  and "malformed" not in p.parts and "attacks" not in p.parts)


PACKAGES = [pytest.param(name, id=name) for name in CORPUS_PACKAGES] + [
    pytest.param(str(p), id=str(p.relative_to(FIXTURES))) for p in fixture_packages()
]


def resolve(name: str) -> Path:
    return Path(name) if os.path.isabs(name) else corpus_file(name)


def msidump(path: Path, out: Path) -> None:
    tool = require_tool("msidump")
    out.mkdir()
    # msidump writes binary cells to ./Binary/ relative to its working directory: run it in out
    subprocess.run([tool, "-t", "-d", str(out), str(path)], check=True, capture_output=True,
                   env={**os.environ, "TZ": "UTC"}, cwd=out)


@pytest.mark.parametrize("name", PACKAGES)
def test_every_table_matches_msidump(name, tmp_path):
    path = resolve(name)
    msidump(path, tmp_path / "ref")
    with open_package(path) as pkg:
        codepage = pkg.database.pool.codepage
        names = pkg.table_names
        summary_values = pkg.summary.props.values
    runner = CliRunner()
    ours = {}
    for name in names:  # exactly what `msitools table PKG NAME --format idt` prints
        result = runner.invoke(cli, ["table", str(path), name, "--format", "idt"])
        assert result.exit_code == 0, result.output
        ours[name] = result.stdout_bytes.decode("utf-8")
    ref_files = {p.stem: p for p in (tmp_path / "ref").glob("*.idt")}
    pseudo = {"_SummaryInformation", "_ForceCodepage"}
    assert set(ref_files) - pseudo == set(ours), "table sets differ"
    for table, text in ours.items():
        theirs = ref_files[table].read_bytes().decode("utf-8")
        assert text == theirs, f"table {table} differs from msidump"
    force = ref_files["_ForceCodepage"].read_bytes().rstrip(b"\x00").decode()
    assert force == idt.force_codepage_text(codepage)
    # summary: msidump's rows vs ours (same PropertyId/Value pseudo table)
    theirs = ref_files["_SummaryInformation"].read_bytes().decode("utf-8")
    assert idt.summary_text(summary_values) == theirs


SUMINFO_LABELS = {
    "Title": 2, "Subject": 3, "Author": 4, "Keywords": 5, "Comments": 6, "Template": 7,
    "Last author": 8, "Revision number (UUID)": 9, "Created": 12, "Last saved": 13,
    "Version": 14, "Source": 15, "Restrict": 16, "Application": 18, "Security": 19,
}


def parse_suminfo(text: str) -> dict:
    out = {}
    for line in text.splitlines():
        label, sep, value = line.partition(": ")
        if sep and label in SUMINFO_LABELS:
            out[SUMINFO_LABELS[label]] = value
    return out


@pytest.mark.parametrize("name", PACKAGES)
def test_summary_matches_msiinfo(name):
    path = resolve(name)
    tool = require_tool("msiinfo")
    proc = subprocess.run([tool, "suminfo", str(path)], check=True, capture_output=True,
                          env={**os.environ, "TZ": "UTC"})
    theirs = parse_suminfo(proc.stdout.decode("utf-8", "replace"))
    with open_package(path) as pkg:
        values = pkg.summary.props.values
    ours = {}
    for pid, value in values.items():
        if pid not in SUMINFO_LABELS.values():
            continue
        if isinstance(value, datetime):
            ours[pid] = value.astimezone(timezone.utc).strftime("%a %b %e %H:%M:%S %Y")
        elif isinstance(value, int):
            ours[pid] = f"{value} ({value:x})"
        else:
            ours[pid] = value
    assert ours == theirs
