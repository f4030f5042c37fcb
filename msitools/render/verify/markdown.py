"""The Markdown report, fit to paste into a ticket.

The verdict with its reasons first, then one sentence per finding, then a table of at
most six columns (status symbol, file with its innermost package, platform, version,
size, and the section when the table has several), then the signatures.  No line is
longer than 160 characters.  With ``details``: where each file was found, the pairing,
the inputs and every delivered file's SHA-256.
"""
from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING, Any

from msitools.render.options import PLAIN, RenderOptions, takes_options
from msitools.render.verify import common

if TYPE_CHECKING:
    from msitools.verify.report import RowVerdict, VerifyReport

MAX_LINE = 160
SYMBOL = {"pass": "✅", "mismatch": "❌ mismatch", "missing": "❌ missing", "ambiguous": "⚠️ ambiguous",
          "unverified": "⚠️ unverified"}


def _esc(text: Any) -> str:
    return str("" if text is None else text).replace("|", "\\|").replace("\n", " ")


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"


def _item(text: str) -> list[str]:
    """A list item wrapped within MAX_LINE (continuation lines indented, as Markdown reads them)."""
    return textwrap.wrap(_esc(text), width=MAX_LINE, initial_indent="- ", subsequent_indent="  ",
                         break_on_hyphens=False) or ["-"]


def _changed(published: Any, found: Any) -> str:
    return published if found in (None, "", "-", published) else f"{published} → {found}"


def _row(r: RowVerdict, with_section: bool) -> list[str]:
    chain = r.file.found_in if r.file else []
    where = common.innermost_package(chain) if r.file else ""
    name = f"{r.name} · {where}" if where and where != r.name else str(r.name)
    size = _changed(common.fmt_size(r.row.size), common.fmt_size(r.file.size if r.file else None))
    version = _changed(str(r.row.version or "-"), common.actual_version(r) if r.file else None)
    cells = [SYMBOL.get(r.status.value, r.status.value), name, str(r.row.platform or ""), version, size]
    if with_section:
        cells.append(r.row.section or "")
    return cells


def _table_line(cells: list[str]) -> str:
    line = "| " + " | ".join(_esc(c) for c in cells) + " |"
    if len(line) <= MAX_LINE:
        return line
    cells = list(cells)
    over = len(line) - MAX_LINE
    for index in (5, 1, 3):  # section, then file, then version give way
        if index < len(cells) and over > 0:
            keep = max(12, len(cells[index]) - over)
            over -= len(cells[index]) - keep
            cells[index] = _cut(cells[index], keep)
    return "| " + " | ".join(_esc(c) for c in cells) + " |"


@takes_options
def render_markdown(report: VerifyReport, options: RenderOptions | None = None) -> str:
    """The Markdown report (see the module documentation)."""
    options = options or PLAIN
    hotfix, table = common.hotfix_and_table(report)
    verdict = "PASS" if report.passed else "FAIL"
    reasons = common.summary_line(report).partition(" — ")[2]
    out = [_cut(f"# {verdict}: {_esc(hotfix)} against {_esc(table)}", MAX_LINE), ""]
    out += textwrap.wrap(f"**Verdict: {verdict}** — {_esc(reasons)}", width=MAX_LINE, break_on_hyphens=False)
    findings = common.finding_sentences(report)
    if findings:
        out += ["", "## Findings", ""]
        for text in findings:
            out += _item(text)
    with_section = common.sections_differ(report)
    headers = ["", "file", "platform", "version", "size"] + (["section"] if with_section else [])
    out += ["", f"## Published rows ({len(report.rows)})", "", _table_line(headers),
            "|" + "---|" * len(headers)]
    out += [_table_line(_row(r, with_section)) for r in report.rows]
    out += ["", "## Signatures", ""]
    for line in common.signature_lines(report):
        out += _item(line)
    if report.unlisted and report.allow_unlisted:
        out += ["", f"## Delivered but not listed ({len(report.unlisted)}, allowed)", ""]
        for u in report.unlisted:
            out += _item(f"{u.name} ({u.platform or 'platform unknown'}, {common.fmt_size(u.size)} bytes) in "
                         f"{common.innermost_package(u.found_in)}")
    if report.delivery.issues:
        out += ["", "## Issues", ""]
        for issue in report.delivery.issues:
            out += _item(issue)
    if options.details:
        out += ["", "## Found in and pairing", ""]
        for r in report.rows:
            out += _item(f"{r.name} ({r.row.platform}): {common.found_in(r) or 'not delivered'} — {r.pairing}")
        out += ["", "## Inputs", ""]
        for i in report.inputs:
            out += _item(f"{i.role}: `{i.path}` — SHA-256 `{i.sha256}`")
        out += ["", "## Delivered files (SHA-256)", ""]
        for d in report.delivery.files:
            out += _item(f"`{d.sha256 or 'not read'}` {' > '.join(d.found_in)}")
    else:
        out += ["", "_Where each file was found, the pairing and the SHA-256 of every file: `--details`._"]
    out += ["", _cut(f"_{common.footer(report)}_", MAX_LINE), ""]
    return "\n".join(out)
