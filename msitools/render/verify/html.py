"""The HTML report: a self-contained page to file as the approval record.

Title and banner name the hotfix and the published table; the banner gives the verdict and
its reasons; the findings (one sentence each) come before the table; failing rows come
first, highlighted, with the differing cells marked; where each file was found, the
pairing and the SHA-256 are in a collapsible block per row.  Below 700 px each row is a
card (see :mod:`msitools.render.html`).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from msitools.render.html import banner, bullet_list, esc, page
from msitools.render.verify import common

if TYPE_CHECKING:
    from msitools.verify.report import RowVerdict, VerifyReport

MAX_FINDINGS_SHOWN = 5


def _differs(r: RowVerdict) -> set[str]:
    """The columns a mismatch marks: size, version, platform (date and time are in the finding)."""
    out = set()
    for d in r.differences:
        for column in ("size", "version", "platform"):
            if column in d.field:
                out.add(column)
    return out


def _cell(label: str, value: str, marked: bool = False, wide: bool = False) -> str:
    css = " ".join(c for c in ("differs" if marked else "", "wide" if wide else "") if c)
    return f"<td data-label='{esc(label)}'" + (f" class='{css}'" if css else "") + f"><div class='v'>{value}</div></td>"


def _row(r: RowVerdict, index: int, with_section: bool) -> str:
    status = r.status.value
    marked = _differs(r)
    found = r.file
    version = esc(r.row.version or "-")
    if found is not None and "version" in marked:
        version += f" → <b>{esc(common.actual_version(r))}</b>"
    size = esc(common.fmt_size(r.row.size))
    if found is not None and "size" in marked:
        size += f" → <b>{esc(common.fmt_size(found.size))}</b>"
    platform = esc(r.row.platform or "")
    if found is not None and "platform" in marked:
        platform += f" → <b>{esc(found.platform)}</b>"
    where = common.innermost_package(found.found_in) if found is not None else ""
    file_cell = esc(r.name) + (f"<br><span class='muted'>in {esc(where)}</span>" if where else "")
    facts = (f"<dl><dt>found in</dt><dd><code>{esc(common.found_in(r) or 'not delivered')}</code></dd>"
             f"<dt>pairing</dt><dd>{esc(r.pairing)}</dd>"
             f"<dt>SHA-256</dt><dd><code>{esc((found.sha256 if found else None) or '-')}</code></dd>"
             + "".join(f"<dt>{esc(d.field)}</dt><dd>expected {esc(d.expected)}, found {esc(d.actual)}</dd>"
                       for d in r.differences)
             + "".join(f"<dt>not verified</dt><dd>{esc(reason)}</dd>" for reason in r.reasons)
             + "</dl>")
    css = "failing" if status in ("mismatch", "missing") else "warning" if status != "pass" else "passing"
    return (f"<tr class='{css}' id='row-{index}'>"
            + _cell("status", f"<span class='badge {esc(status)}'>{esc(status)}</span>")
            + _cell("file", file_cell)
            + _cell("platform", platform, "platform" in marked)
            + _cell("version", version, "version" in marked)
            + _cell("size", size, "size" in marked)
            + (_cell("section", esc(r.row.section)) if with_section else "")
            + _cell("details", f"<details><summary>more</summary>{facts}</details>", wide=True)
            + "</tr>")


def render_html(report: VerifyReport) -> str:
    """A self-contained HTML page (no external resources, no script)."""
    hotfix, table = common.hotfix_and_table(report)
    verdict = "PASS" if report.passed else "FAIL"
    findings = common.finding_sentences(report)
    shown, rest = findings[:MAX_FINDINGS_SHOWN], findings[MAX_FINDINGS_SHOWN:]
    body = [banner(report.passed, f"{hotfix} checked against {table}", f"Verdict: {verdict}",
                   [common.summary_line(report).partition(" — ")[2]])]
    if findings:
        body.append(f"<section><h2>Findings ({len(findings)})</h2>{bullet_list(shown, 'findings')}"
                    + (f"<details><summary>{len(rest)} more</summary>{bullet_list(rest, 'findings')}</details>"
                       if rest else "") + "</section>")
    order = sorted(range(len(report.rows)), key=lambda i: report.rows[i].status.value == "pass")
    with_section = common.sections_differ(report)
    rows = "".join(_row(report.rows[i], i, with_section) for i in order)
    single = "" if with_section or not report.rows else f"<p class='muted'>{esc(report.rows[0].row.section)}</p>"
    body.append(f"<section><h2>Published rows ({len(report.rows)}; failing first)</h2>{single}<table><thead><tr>"
                "<th>status</th><th>file</th><th>platform</th><th>version</th><th>size</th>"
                + ("<th>section</th>" if with_section else "")
                + f"<th>details</th></tr></thead><tbody>{rows}</tbody></table></section>")
    body.append(f"<section><h2>Signatures</h2>{bullet_list(common.signature_lines(report))}</section>")
    if report.unlisted:
        items = [f"{u.name} ({u.platform or 'platform unknown'}, {common.fmt_size(u.size)} bytes) in "
                 f"{common.innermost_package(u.found_in)} — SHA-256 {u.sha256 or 'not read'}" for u in report.unlisted]
        body.append(f"<section><h2>Delivered but not in the published table ({len(items)}"
                    f"{', allowed' if report.allow_unlisted else ''})</h2>{bullet_list(items)}</section>")
    if report.delivery.issues:
        body.append(f"<section><h2>Issues</h2>{bullet_list(list(report.delivery.issues))}</section>")
    inputs = [f"{i.role}: {i.path} — SHA-256 {i.sha256}" for i in report.inputs]
    hashes = [f"{d.sha256 or 'not read'}  {' > '.join(d.found_in)}" for d in report.delivery.files]
    body.append(f"<section><h2>Inputs</h2>{bullet_list(inputs)}<details><summary>SHA-256 of the "
                f"{len(hashes)} delivered files</summary>{bullet_list(hashes)}</details></section>")
    body.append(f"<p class='muted'>{esc(common.footer(report))}</p>")
    return page(f"{verdict}: {hotfix} against {table}", "\n".join(body))
