"""The verify renderers, called directly on a VerifyReport (no command line)."""
from __future__ import annotations

import json
from xml.etree import ElementTree as ET

import pytest
from conftest import FIXTURES

from msitools.render import formats, json_text, render
from msitools.render.verify import RENDERERS, render_html, render_junit, render_markdown, render_text
from msitools.verify import verify

KB = FIXTURES / "kb2586709"


@pytest.fixture(scope="module")
def passing():
    return verify(KB / "SCCM2007-SP2-2586709-X86-ENU.msi", KB / "kb2586709.txt")


@pytest.fixture(scope="module")
def failing():
    return verify(KB / "tampered" / "size-off.msi", KB / "kb2586709.txt")


def test_registry_offers_every_format_and_json():
    assert formats(RENDERERS) == ["text", "markdown", "junit", "html", "json"]


def test_text(passing, failing):
    assert render_text(passing).splitlines()[0] == "Verdict: PASS — 9 pass, 0 unlisted"
    text = render_text(failing)
    assert text.splitlines()[0] == "Verdict: FAIL — 1 mismatch; 8 pass"
    assert "size (bytes): expected 375,656" not in text or "mismatch" in text.lower()
    assert "MISMATCH" in text


def test_markdown_names_the_mismatching_row(failing):
    md = render_markdown(failing)
    assert md.startswith("# FAIL: size-off.msi against kb2586709.txt")
    assert "- Tsmanager.exe (x64): size expected 375,656, found 375,657" in md
    row = next(line for line in md.splitlines() if "❌ mismatch" in line)
    assert "375,656 → 375,657" in row


def test_junit_counts_the_failure(failing):
    suite = ET.fromstring(render_junit(failing))
    assert suite.get("failures") == "1"
    failed = [c.get("name") for c in suite.iter("testcase") if c.find("failure") is not None]
    assert len(failed) == 1


def test_html_is_self_contained(passing):
    page = render_html(passing)
    assert page.startswith("<!DOCTYPE html>") and "PASS" in page
    for needle in ("http://", "https://", "<script", "<link"):
        assert needle not in page


def test_json_is_the_report_dict(passing):
    assert json.loads(json_text(passing)) == json.loads(json.dumps(passing.to_dict()))
    assert render(RENDERERS, "json", passing).endswith("\n")


TAMPERED = sorted((KB / "tampered").glob("*.msi"))


@pytest.mark.parametrize("hotfix", TAMPERED, ids=lambda p: p.stem)
def test_markdown_of_every_tampered_variant_fits_a_ticket(hotfix):
    report = verify(hotfix, KB / "kb2586709.txt")
    md = render_markdown(report)
    lines = md.splitlines()
    assert max(len(line) for line in lines) <= 160
    assert lines[0] == f"# FAIL: {hotfix.name} against kb2586709.txt"
    assert lines[2].startswith("**Verdict: FAIL** — ")
    findings = lines[lines.index("## Findings") + 2]
    assert findings.startswith("- ") and len(findings) > 10
    table = [line for line in lines if line.startswith("| ")]
    assert all(line.count(" | ") <= 5 for line in table)  # at most six columns
