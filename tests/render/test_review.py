"""Review and signature renderers, on reports made by the library (no command line)."""
from __future__ import annotations

from conftest import FIXTURES

from msitools.db.package import open_package
from msitools.pe.authenticode_msi import signature_report
from msitools.render.review import REVIEW_RENDERERS, SIGNATURE_RENDERERS, review_markdown, review_text, signature_text
from msitools.review import review

HOTFIX = FIXTURES / "kb2586709" / "SCCM2007-SP2-2586709-X86-ENU.msi"


def test_registries():
    assert set(REVIEW_RENDERERS) == {"text", "markdown", "html"} and set(SIGNATURE_RENDERERS) == {"text"}


def test_review_html_is_a_self_contained_page_with_a_banner():
    from msitools.render.review import review_html

    with open_package(HOTFIX) as pkg:
        page = review_html(review(pkg))
    assert page.startswith("<!DOCTYPE html>") and 'id="verdict"' in page
    assert "package(s) reviewed" in page and "Custom actions" in page
    for needle in ("http://", "https://", "<script", "<link", "src="):
        assert needle not in page


def test_review_text_and_markdown():
    with open_package(HOTFIX) as pkg:
        report = review(pkg)
    text, md = review_text(report), review_markdown(report)
    assert "Custom actions" in text and "Custom actions" in md
    assert md.lstrip().startswith("#")


def test_signature_text_of_an_unsigned_package():
    with open_package(HOTFIX) as pkg:
        assert "unsigned" in signature_text(signature_report(pkg))
