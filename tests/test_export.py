"""export, called directly: one .idt per table, the summary and codepage pseudo tables, every stream."""
from __future__ import annotations

import pytest
from conftest import FIXTURES

from msitools.db.package import open_package
from msitools.errors import ExtractionError
from msitools.export import export_package


def test_export_writes_every_table_and_stream(tmp_path):
    with open_package(FIXTURES / "patches" / "base.msi") as pkg:
        written = export_package(pkg, tmp_path, force=False, streams=True)
        tables = set(pkg.table_names)
        streams = {s.name.lstrip("\x05"): s.size for s in pkg.streams}
    assert {p.name for p in tmp_path.glob("*.idt")} == {f"{t}.idt" for t in tables} | {
        "_SummaryInformation.idt", "_ForceCodepage.idt"}
    exported = {p.name: p.stat().st_size for p in (tmp_path / "_Streams").iterdir()}
    assert exported == streams
    assert set(written) == set(tmp_path.glob("*.idt")) | set((tmp_path / "_Streams").iterdir())
    file_idt = (tmp_path / "File.idt").read_bytes().decode("latin-1").split("\r\n")
    assert file_idt[0].split("\t")[0] == "File" and file_idt[2].startswith("File\tFile")


def test_export_refuses_to_overwrite(tmp_path):
    with open_package(FIXTURES / "patches" / "base.msi") as pkg:
        export_package(pkg, tmp_path, streams=False)
        with pytest.raises(ExtractionError):
            export_package(pkg, tmp_path, streams=False)
        export_package(pkg, tmp_path, force=True, streams=False)
