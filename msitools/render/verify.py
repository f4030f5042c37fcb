"""Renderers for the verification report: text, Markdown, JUnit XML and a self-contained HTML page.

Each takes the :class:`~msitools.verify.report.VerifyReport` and returns a string;
none of them prints.  JSON is the report's ``to_dict()``, emitted by the command line.
"""
from __future__ import annotations

import html
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from xml.etree import ElementTree as ET

if TYPE_CHECKING:
    from msitools.verify.report import RowVerdict, VerifyReport

STATUS_ORDER = ["pass", "mismatch", "missing", "ambiguous", "unverified"]


def _fmt_size(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) else ("-" if value is None else str(value))


def _actual_version(r: RowVerdict) -> str:
    f = r.file
    if f is None:
        return "-"
    if f.platform == "Not Applicable" and not f.table_version:
        return "Not Applicable"
    pe, table = f.pe_version, f.table_version
    if pe and table and pe != table:
        return f"{pe} (File table {table})"
    return pe or table or "-"


def _found_in(r: RowVerdict) -> str:
    return " > ".join(r.file.found_in) if r.file else ""


def _found_size(r: RowVerdict) -> str:
    return _fmt_size(r.file.size if r.file else None)


def _detail(r: RowVerdict) -> str:
    status = r.status.value
    if status == "mismatch":
        return "; ".join(f"{d.field}: expected {d.expected}, found {d.actual}" for d in r.differences)
    if status == "unverified":
        return "; ".join(r.reasons)
    if status == "missing":
        return r.pairing or "not delivered"
    if status == "ambiguous":
        return "the published row reads several ways: " + " | ".join(
            f"{x.get('version')} / {x.get('size')}" for x in r.row.to_dict().get("readings") or [])
    return ""


def _summary_line(report: VerifyReport) -> str:
    """``Verdict: FAIL — package altered after signing: x.msi; 1 mismatch; 10 pass`` (reasons first)."""
    s = report.summary
    if report.passed:
        parts = [f"{s[k]} {k}" for k in STATUS_ORDER if s.get(k)]
        parts.append(f"{s['unlisted']} unlisted" + (" (allowed)" if report.allow_unlisted else ""))
        return "Verdict: PASS — " + ", ".join(parts)
    reasons = list(report.verdict_reasons) + ([f"{s['pass']} pass"] if s.get("pass") else [])
    return "Verdict: FAIL — " + "; ".join(reasons)


_STATE_WORDS = {
    "signed_valid": "signed, intact, chain trusted", "signed_untrusted": "signed, intact, chain NOT trusted",
    "signed_unverifiable": "signed, intact, chain not verifiable offline", "signed_altered": "ALTERED after signing",
    "unsigned": "unsigned", "unreadable": "signature unreadable", "catalog_signed": "catalog-signed",
    "catalog_altered": "ALTERED (catalog hash mismatch)",
    "catalog_listed": "named by a signed manifest (legacy hash, not checked)",
}


def _sig_state(sig: dict[str, Any]) -> str:
    status = sig.get("status") or ("unsigned" if not sig.get("signed") else "signed")
    return _STATE_WORDS.get(str(status), str(status))


def _signer_subject(sig: dict[str, Any]) -> str | None:
    signer = sig.get("signer")
    return signer.get("subject") if isinstance(signer, dict) else signer


def signature_lines(report: VerifyReport) -> list[str]:
    """The signatures block: every package, the payload images counted, failing ones and catalogs listed."""
    lines = []
    for sig in report.delivery.packages:
        signer = _signer_subject(sig)
        lines.append(f"{sig['package']}: {_sig_state(sig)}" + (f", signed by {signer}" if signer else "")
                     + "".join(f"; {w}" for w in sig.get("weaknesses") or []))
    payload = report.payload_signatures()
    if payload:
        counts: dict[str, int] = {}
        for item in payload:
            counts[_sig_state(item)] = counts.get(_sig_state(item), 0) + 1
        lines.append("payload: " + ", ".join(f"{n} {state}" for state, n in sorted(counts.items())))
    for catalog in report.delivery.catalogs:
        lines.append(f"catalog {catalog['catalog']}: {_sig_state(catalog)}, signed by {catalog.get('signer')}, "
                     f"{catalog.get('members')} members")
    lines += [f"FAIL: {f}" for f in report.signature_failures]
    return lines


def _unlisted_version(f: Any) -> str:
    return f.pe_version or f.table_version or ""


def _footer(report: VerifyReport) -> str:
    return f"{report.tool.get('name')} {report.tool.get('version')}, {report.time}"


def render_text(report: VerifyReport) -> str:
    """A plain-text report (tables by tabulate)."""
    from tabulate import tabulate

    lines = [_summary_line(report), "", "Signatures:"] + [f"  {line}" for line in signature_lines(report)] + [""]
    rows = [[r.status.value.upper(), r.name, r.row.platform or "", r.row.section, r.row.version or "",
             _actual_version(r), _fmt_size(r.row.size), _found_size(r), _found_in(r), _detail(r)] for r in report.rows]
    lines.append(tabulate(rows, headers=["status", "file", "platform", "section", "published version", "found version",
                                         "published size", "found size", "found in", "details"],
                          tablefmt="simple", disable_numparse=True))
    if report.unlisted:
        lines += ["", "Delivered but not in the published table:"]
        lines.append(tabulate([[u.name, u.platform or "", _unlisted_version(u), _fmt_size(u.size),
                                " > ".join(u.found_in)] for u in report.unlisted],
                              headers=["file", "platform", "version", "size", "found in"], tablefmt="simple",
                              disable_numparse=True))
    if report.delivery.issues:
        lines += ["", "Issues:"] + [f"  - {i}" for i in report.delivery.issues]
    lines += ["", "Pairing:"] + [f"  {r.name} ({r.row.platform}): {r.pairing}" for r in report.rows]
    lines += ["", "Inputs:"] + [f"  {i.role}: {i.path} sha256 {i.sha256}" for i in report.inputs]
    lines += ["", "SHA-256 of delivered files:"] + [
        f"  {d.sha256 or '(not read)'}  {' > '.join(d.found_in)}" for d in report.delivery.files]
    lines.append(f"\n{_footer(report)}")
    return "\n".join(lines)


def _md_escape(text: Any) -> str:
    return str("" if text is None else text).replace("|", "\\|").replace("\n", " ")


def render_markdown(report: VerifyReport) -> str:
    """A Markdown report."""
    out = [f"# Hotfix verification: {report.verdict.upper()}", "", _summary_line(report), "", "## Signatures", ""]
    out += [f"- {_md_escape(line)}" for line in signature_lines(report)] + [""]
    out.append("| status | file | platform | section | published version | found version | published size | "
               "found size | found in | details |")
    out.append("|---|---|---|---|---|---|---|---|---|---|")
    for r in report.rows:
        out.append("| " + " | ".join(_md_escape(x) for x in [
            f"**{r.status.value}**", r.name, r.row.platform, r.row.section, r.row.version, _actual_version(r),
            _fmt_size(r.row.size), _found_size(r), _found_in(r), _detail(r)]) + " |")
    if report.unlisted:
        out += ["", "## Delivered but not listed", "", "| file | platform | size | found in |", "|---|---|---|---|"]
        for u in report.unlisted:
            out.append(f"| {_md_escape(u.name)} | {_md_escape(u.platform)} | {_fmt_size(u.size)} | "
                       f"{_md_escape(' > '.join(u.found_in))} |")
    if report.delivery.issues:
        out += ["", "## Issues", ""] + [f"- {_md_escape(i)}" for i in report.delivery.issues]
    out += ["", "## Inputs", ""] + [f"- {i.role}: `{i.path}` — SHA-256 `{i.sha256}`" for i in report.inputs]
    out += ["", "## Delivered files (SHA-256)", ""] + [
        f"- `{d.sha256 or 'not read'}` {_md_escape(' > '.join(d.found_in))}" for d in report.delivery.files]
    out += ["", f"_{_footer(report)}_", ""]
    return "\n".join(out)


def render_junit(report: VerifyReport) -> str:
    """One test case per published row, per signature failure (classname ``signatures``) and for unlisted files.

    ``failures`` counts every reason the verdict fails, so it is never 0 for a failing run.
    """
    suite = ET.Element("testsuite", name="msitools verify", timestamp=report.time)
    props = ET.SubElement(suite, "properties")
    for item in report.inputs:
        ET.SubElement(props, "property", name=f"{item.role} sha256", value=str(item.sha256))
    failures = 0
    for bad in report.signature_failures:
        case = ET.SubElement(suite, "testcase", classname="signatures", name=bad.where)
        ET.SubElement(case, "failure", type="signature", message=f"{bad.problem}: {bad.reason}")
        failures += 1
    for r in report.rows:
        case = ET.SubElement(suite, "testcase", classname=r.row.section or "published table",
                             name=f"{r.name} ({r.row.platform})")
        if r.status.value != "pass":
            failure = ET.SubElement(case, "failure", type=r.status.value, message=f"{r.status.value}: {_detail(r)}")
            failure.text = _found_in(r) or r.pairing or ""
            failures += 1
        out = ET.SubElement(case, "system-out")
        out.text = f"found in: {_found_in(r)}\nsha256: {r.file.sha256 if r.file else None}\npairing: {r.pairing}"
    case = ET.SubElement(suite, "testcase", classname="delivery", name="no unlisted files")
    if report.unlisted:
        failing = not report.allow_unlisted
        el = ET.SubElement(case, "failure" if failing else "skipped",
                           message=f"{len(report.unlisted)} delivered file(s) not in the table")
        el.text = "\n".join(" > ".join(u.found_in) for u in report.unlisted)
        failures += int(failing)
    if not report.rows:
        empty = ET.SubElement(suite, "testcase", classname="published table", name="rows to check")
        ET.SubElement(empty, "failure", type="empty", message="no published row to check")
        failures += 1
    suite.set("tests", str(len(suite.findall("testcase"))))
    suite.set("failures", str(failures))
    suite.set("errors", "0")
    return ET.tostring(suite, encoding="unicode", xml_declaration=True)


_CSS = """
body{font-family:system-ui,Segoe UI,Helvetica,Arial,sans-serif;margin:2rem;color:#1b1b1b}
h1{font-size:1.4rem} table{border-collapse:collapse;width:100%;margin:1rem 0;font-size:.9rem}
th,td{border:1px solid #ccc;padding:.35rem .5rem;text-align:left;vertical-align:top}
th{background:#f3f3f3} .pass{color:#0a6b2a;font-weight:600} .fail,.mismatch,.missing,.ambiguous,.unverified
{color:#a30d0d;font-weight:600} .verdict{font-size:1.2rem;padding:.6rem 1rem;border-radius:.3rem;display:inline-block}
.verdict.pass{background:#e3f5e8} .verdict.fail{background:#fbe4e4} code{font-size:.8rem;word-break:break-all}
.muted{color:#666;font-size:.85rem}
"""



def render_html(report: VerifyReport) -> str:
    """A self-contained HTML page (no external resources)."""
    e = html.escape
    rows = []
    for r in report.rows:
        rows.append("<tr>" + "".join([
            f"<td class='{e(r.status.value)}'>{e(r.status.value)}</td>",
            f"<td>{e(r.name)}</td>", f"<td>{e(str(r.row.platform))}</td>", f"<td>{e(r.row.section)}</td>",
            f"<td>{e(str(r.row.version))}</td>", f"<td>{e(_actual_version(r))}</td>",
            f"<td>{e(_fmt_size(r.row.size))}</td>",
            f"<td>{e(_found_size(r))}</td>",
            f"<td>{e(_found_in(r))}<br><span class='muted'>{e(r.pairing)}</span></td>",
            f"<td>{e(_detail(r))}</td>",
            f"<td><code>{e((r.file.sha256 if r.file else None) or '')}</code></td>"]) + "</tr>")
    unlisted = "".join(f"<tr><td>{e(u.name)}</td><td>{e(str(u.platform))}</td><td>{e(_fmt_size(u.size))}"
                       f"</td><td>{e(' > '.join(u.found_in))}</td><td><code>{e(u.sha256 or '')}</code></td></tr>"
                       for u in report.unlisted)
    inputs = "".join(f"<li>{e(i.role)}: <code>{e(i.path)}</code><br>SHA-256 <code>{e(str(i.sha256))}</code>"
                     f"</li>" for i in report.inputs)
    issues = "".join(f"<li>{e(i)}</li>" for i in report.delivery.issues)
    verdict = report.verdict
    unlisted_block = ('<table><thead><tr><th>file</th><th>platform</th><th>size</th><th>found in</th>'
                      '<th>SHA-256</th></tr></thead><tbody>' + unlisted + '</tbody></table>') if unlisted else \
        '<p>None.</p>'
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Hotfix verification: {e(verdict.upper())}</title>
<style>{_CSS}</style></head><body>
<h1>Hotfix verification</h1>
<p class="verdict {e(verdict)}">{e(_summary_line(report))}</p>
<h2>Signatures</h2><ul>{''.join(f"<li>{e(line)}</li>" for line in signature_lines(report))}</ul>
<table><thead><tr><th>status</th><th>file</th><th>platform</th><th>section</th><th>published version</th>
<th>found version</th>
<th>published size</th><th>found size</th><th>found in</th><th>details</th><th>SHA-256</th></tr></thead>
<tbody>{''.join(rows)}</tbody></table>
<h2>Delivered but not listed</h2>
{unlisted_block}
{'<h2>Issues</h2><ul>' + issues + '</ul>' if issues else ''}
<h2>Inputs</h2><ul>{inputs}</ul>
<p class="muted">{e(_footer(report))}</p>
</body></html>
"""


RENDERERS: dict[str, Callable[[VerifyReport], str]] = {
    "text": render_text, "markdown": render_markdown, "junit": render_junit, "html": render_html}
