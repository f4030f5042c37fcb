"""The kb, files, extract and patch renderers, on library reports."""
from __future__ import annotations

from conftest import FIXTURES

from msitools.db.package import open_package
from msitools.extract import extract
from msitools.kb import parse_file
from msitools.patch.msp import Msp
from msitools.patch.report import patch_report
from msitools.render.extract import extract_text
from msitools.render.files import FileList, files_csv, files_text
from msitools.render.kb import kb_csv, kb_text
from msitools.render.patch import render_patch_text


def test_kb_text_and_csv():
    table = parse_file(FIXTURES / "kb2586709" / "kb2586709.txt")
    assert kb_csv(table).splitlines()[0] == "name,version,size,date,time,platform,section,ambiguous"
    assert kb_text(table).count("Tscore.dll") == 2


def test_files_renderers_show_the_chosen_columns():
    listing = FileList([{"name": "a.dll", "size": 3, "hidden": "x"}], ["name", "size"])
    assert files_csv(listing) == "name,size\na.dll,3\n"
    assert "hidden" not in files_text(listing)
    assert listing.to_dict() == {"files": listing.rows}


def test_extract_summary(tmp_path):
    report = extract(FIXTURES / "patches" / "base.msi", tmp_path / "out")
    assert extract_text(report) == f"extracted {len(report.written)} files to {tmp_path / 'out'}"


def test_patch_text():
    with open_package(FIXTURES / "patches" / "whole.msp") as pkg:
        text = render_patch_text(patch_report(Msp(pkg)))
    assert "PCW_CAB_Whole" in text
