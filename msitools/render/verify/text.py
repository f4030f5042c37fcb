"""The text report: the verdict, a table that fits the terminal, the findings, the verdict again.

Layout (the same on a terminal and in a pipe, where it never carries colour):

* line 1 and the last line: ``Verdict: PASS — ...`` or ``Verdict: FAIL — reasons``;
* line 2: the hotfix and the published table;
* a table with one row per published row: ``status``, ``file``, ``platform`` and, for rows
  that do not pass, what differs (``size 375,656 → 375,657``), wrapped inside its column;
  a line ``§ section`` starts each section when the table has several;
* ``Signatures:``, ``Delivered but not in the published table (N):``, ``Could not be read:``
  and ``Issues:`` blocks, each line indented by two spaces;
* with ``details``: ``Found in and pairing:``, ``Inputs:`` and ``SHA-256 of delivered files:``.

Every line fits ``options.width`` columns (100 by default): long names are cut with "…",
long texts wrapped.
"""
from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING

from msitools.render.options import PLAIN, RenderOptions, takes_options
from msitools.render.verify.common import (
    fmt_size,
    footer,
    found_in,
    hotfix_and_table,
    innermost_package,
    sections_differ,
    signature_lines,
    summary_line,
    unlisted_version,
    what_differs,
)

if TYPE_CHECKING:
    from msitools.verify.report import VerifyReport

_STATUS_STYLE = {"pass": "green", "mismatch": "red", "missing": "red", "ambiguous": "yellow",
                 "unverified": "yellow"}


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"


def _wrap(text: str, width: int, indent: str = "  ", later: str | None = None) -> list[str]:
    later = indent + "  " if later is None else later
    return textwrap.wrap(text, width=width, initial_indent=indent, subsequent_indent=later,
                         break_on_hyphens=False) or [indent.rstrip()]


def _short_summary(report: VerifyReport, width: int) -> str:
    """The verdict line within *width*: signature reasons counted by kind when listing them is too long."""
    line = summary_line(report)
    if len(line) <= width or report.passed:
        return line
    kinds: dict[str, int] = {}
    for bad in report.signature_failures:
        kinds[bad.problem] = kinds.get(bad.problem, 0) + 1
    rest = [r for r in report.verdict_reasons if r not in {bad.short for bad in report.signature_failures}]
    s = report.summary
    reasons = [f"{n} × {problem}" for problem, n in kinds.items()] + rest + (
        [f"{s['pass']} pass"] if s.get("pass") else [])
    return _cut("Verdict: FAIL — " + "; ".join(reasons), width)


def verdict_line(report: VerifyReport, options: RenderOptions) -> str:
    line = _short_summary(report, options.width)
    word = "PASS" if report.passed else "FAIL"
    head, _, rest = line.partition(word)
    return head + options.paint(word, "bold-green" if report.passed else "bold-red") + rest


def _table(report: VerifyReport, options: RenderOptions) -> list[str]:
    width = options.width
    statuses = [r.status.value.upper() for r in report.rows]
    w_status = max([len("status"), *map(len, statuses)])
    w_platform = min(14, max([len("platform"), *(len(str(r.row.platform or "")) for r in report.rows)]))
    w_file = min(36, max([len("file"), *(len(str(r.name)) for r in report.rows)]))
    w_diff = width - (w_status + w_platform + w_file + 6)
    if w_diff < 24:  # a narrow terminal: the file column gives way first
        w_file = max(12, w_file - (24 - w_diff))
        w_diff = width - (w_status + w_platform + w_file + 6)
    pad = " " * (w_status + w_file + w_platform + 6)
    lines = [f"{'status':<{w_status}}  {'file':<{w_file}}  {'platform':<{w_platform}}  "
             f"{'difference' if any(r.status.value != 'pass' for r in report.rows) else ''}".rstrip(),
             f"{'-' * w_status}  {'-' * w_file}  {'-' * w_platform}  {'-' * min(w_diff, 40)}"]
    grouped = sections_differ(report)
    section = None
    for r, status in zip(report.rows, statuses):
        if grouped and r.row.section != section:
            section = r.row.section
            lines.append(_cut(f"§ {section or '(no section)'}", width))
        name, platform = _cut(str(r.name), w_file), _cut(str(r.row.platform or ""), w_platform)
        head = (options.paint(f"{status:<{w_status}}", _STATUS_STYLE.get(r.status.value, "bold"))
                + f"  {name:<{w_file}}  {platform:<{w_platform}}")
        diff = what_differs(r, arrows=True)
        if not diff:
            lines.append(head.rstrip())
            continue
        parts = textwrap.wrap(diff, width=w_diff, break_on_hyphens=False)
        lines.append(f"{head}  {parts[0]}")
        lines += [f"{pad}{part}" for part in parts[1:]]
    return lines


def _block(title: str, items: list[str], width: int) -> list[str]:
    if not items:
        return []
    out = ["", title]
    for item in items:
        out += _wrap(item, width)
    return out


@takes_options
def render_text(report: VerifyReport, options: RenderOptions | None = None) -> str:
    """The text report (see the module documentation for its layout)."""
    options = options or PLAIN
    width = options.width
    hotfix, table = hotfix_and_table(report)
    lines = [verdict_line(report, options), _cut(f"{hotfix} checked against {table}", width), ""]
    lines += _table(report, options)
    lines += _block("Signatures:", signature_lines(report), width)
    if report.unlisted:
        title = f"Delivered but not in the published table ({len(report.unlisted)})" + (
            " — allowed:" if report.allow_unlisted else ":")
        lines += _block(title, [f"{u.name} ({u.platform or 'platform unknown'}, {unlisted_version(u) or 'no version'}"
                                f", {fmt_size(u.size)} bytes) in {innermost_package(u.found_in)}"
                                for u in report.unlisted], width)
    lines += _block("Could not be read:", list(report.delivery.unreadable), width)
    lines += _block("Issues:", list(report.delivery.issues), width)
    if options.details:
        lines += _block("Found in and pairing:", [f"{r.name} ({r.row.platform}): {found_in(r) or 'not delivered'}"
                                                  f" — {r.pairing}" for r in report.rows], width)
        lines += _block("Inputs:", [f"{i.role}: {i.path} sha256 {i.sha256}" for i in report.inputs], width)
        lines += _block("SHA-256 of delivered files:", [f"{d.sha256 or '(not read)'} {' > '.join(d.found_in)}"
                                                        for d in report.delivery.files], width)
        lines += ["", _cut(footer(report), width)]
    lines += ["", verdict_line(report, options)]
    return "\n".join(_fit(line, width) for line in lines)


def _fit(line: str, width: int) -> str:
    """A last guard: no line is longer than the width (escape codes do not count)."""
    visible = line
    if "\x1b[" in line:
        import re

        visible = re.sub(r"\x1b\[[0-9;]*m", "", line)
    if len(visible) <= width:
        return line
    return _cut(visible, width)
