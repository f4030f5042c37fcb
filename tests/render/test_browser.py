"""The HTML reports in a real browser (Debian's chromium, driven over the DevTools protocol).

At 1400×900 and at 420×900 (a phone): the verdict banner and the first failing row are inside
the first screen, nothing overflows sideways, and the page requests nothing but itself.
Screenshots of the last run are kept in ``test-output/browser/`` (ignored by git).
"""
from __future__ import annotations

from pathlib import Path

import pytest

from conftest import FIXTURES, ROOT
from msitools.db.package import open_package
from msitools.render.review import review_html
from msitools.render.verify import render_html
from msitools.review import review
from msitools.verify import verify
from render.browser import Browser

KB = FIXTURES / "kb2586709"
SCREENSHOTS = ROOT / "test-output" / "browser"
SIZES = [(1400, 900), (420, 900)]

PROBE = """(() => {
  const vw = window.innerWidth, vh = window.innerHeight;
  const box = el => { if (!el) return null; const r = el.getBoundingClientRect();
                      return {top: r.top, bottom: r.bottom, left: r.left, right: r.right}; };
  const sticking = [...document.querySelectorAll('body *')]
      .filter(el => el.getBoundingClientRect().right > vw + 1)
      .map(el => el.tagName.toLowerCase() + (el.className ? '.' + el.className : '')).slice(0, 8);
  return {vw, vh, scrollWidth: document.documentElement.scrollWidth, sticking,
          banner: box(document.getElementById('verdict')),
          failing: box(document.querySelector('tr.failing, tr.warning')),
          finding: box(document.querySelector('ul.findings li')),
          title: document.title,
          resources: performance.getEntriesByType('resource').map(e => e.name)};
})()"""


@pytest.fixture(scope="module")
def browser():
    with Browser() as b:
        yield b


def _reports(tmp_path_factory) -> list[tuple[str, Path, bool]]:
    out = tmp_path_factory.mktemp("reports")
    cases = [("pass", KB / "SCCM2007-SP2-2586709-X86-ENU.msi")] + [
        (p.stem, p) for p in sorted((KB / "tampered").glob("*.msi"))]
    pages = []
    for name, hotfix in cases:
        report = verify(hotfix, KB / "kb2586709.txt")
        path = out / f"verify-{name}.html"
        path.write_text(render_html(report), encoding="utf-8")
        pages.append((f"verify-{name}", path, not report.passed))
    with open_package(KB / "SCCM2007-SP2-2586709-X86-ENU.msi") as pkg:
        path = out / "review.html"
        path.write_text(review_html(review(pkg)), encoding="utf-8")
    pages.append(("review", path, False))
    return pages


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    return _reports(tmp_path_factory)


@pytest.mark.parametrize("width,height", SIZES, ids=[f"{w}px" for w, _h in SIZES])
def test_reports_read_on_the_first_screen_without_sideways_scrolling(browser, reports, width, height):
    problems = []
    for name, path, failing in reports:
        page = browser.open(path.as_uri(), width, height)
        facts = page.evaluate(PROBE)
        page.screenshot(SCREENSHOTS / f"{name}-{width}.png")
        if facts["scrollWidth"] > facts["vw"] or facts["sticking"]:
            problems.append(f"{name} at {width}px overflows: {facts['scrollWidth']} > {facts['vw']} "
                            f"({facts['sticking']})")
        if facts["banner"] is None or facts["banner"]["bottom"] > facts["vh"]:
            problems.append(f"{name} at {width}px: the verdict banner is not on the first screen ({facts['banner']})")
        first = facts["failing"] or facts["finding"]  # a failing row, else (say, an unlisted file) the finding
        if failing and (first is None or first["top"] >= facts["vh"]):
            problems.append(f"{name} at {width}px: the first failing row is not on the first screen ({first})")
        if not failing and facts["failing"] is not None and name.startswith("verify"):
            problems.append(f"{name}: a passing report marks a row as failing")
        others = [url for url in page.requests + facts["resources"] if url != path.as_uri()]
        if others:
            problems.append(f"{name} loads external resources: {others}")
        if name.startswith("verify") and "kb2586709.txt" not in facts["title"]:
            problems.append(f"{name}: the title does not name the table: {facts['title']!r}")
    assert not problems, "\n".join(problems)


def test_the_first_failing_row_marks_the_cell_that_differs(browser, reports):
    name, path, _failing = next(r for r in reports if r[0] == "verify-size-off")
    page = browser.open(path.as_uri(), 1400, 900)
    marked = page.evaluate("[...document.querySelectorAll('tr.failing td.differs')].map(td => td.dataset.label)")
    assert marked == ["size"], name
