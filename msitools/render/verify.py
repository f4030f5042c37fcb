"""Renderers for the verification report: text, Markdown, JUnit XML and a self-contained HTML page.

All take the dict :func:`msitools.verify.verify` returns (the JSON format is that
dict itself) and return a string; none of them prints.
"""
from __future__ import annotations

import html
from typing import Any
from xml.etree import ElementTree as ET

STATUS_ORDER = ["pass", "mismatch", "missing", "ambiguous", "unverified"]


def _fmt_size(value) -> str:
    return f"{value:,}" if isinstance(value, int) else ("-" if value is None else str(value))


def _actual_version(row: dict) -> str:
    a = row.get("actual") or {}
    if a.get("platform") == "Not Applicable" and not a.get("version_file_table"):
        return "Not Applicable"
    pe, table = a.get("version_pe"), a.get("version_file_table")
    if pe and table and pe != table:
        return f"{pe} (File table {table})"
    return pe or table or "-"


def _detail(row: dict) -> str:
    if row["status"] == "mismatch":
        return "; ".join(f"{d['field']}: expected {d['expected']}, found {d['actual']}" for d in row["differences"])
    if row["status"] == "unverified":
        return "; ".join(row.get("reasons") or [])
    if row["status"] == "missing":
        return row.get("pairing") or "not delivered"
    if row["status"] == "ambiguous":
        return "the published row reads several ways: " + " | ".join(
            f"{r.get('version')} / {r.get('size')}" for r in row.get("readings") or [])
    return ""


def _package_sig(sig: dict) -> str:
    if not sig.get("signed"):
        return f"{sig['package']}: unsigned"
    state = "intact" if sig.get("digest_matches") else "ALTERED after signing"
    signer = (sig.get("signer") or {}).get("subject")
    return f"{sig['package']}: signed by {signer}, {state}"


def _summary_line(report: dict) -> str:
    s = report["summary"]
    parts = [f"{s[k]} {k}" for k in STATUS_ORDER if s.get(k)]
    parts.append(f"{s['unlisted']} unlisted" + (" (allowed)" if report.get("allow_unlisted") else ""))
    return f"Verdict: {report['verdict'].upper()} — " + ", ".join(parts)


def render_text(report: dict) -> str:
    from tabulate import tabulate

    lines = [_summary_line(report), ""]
    rows = [[r["status"].upper(), r["name"], r["platform"] or "", r["expected"]["version"] or "",
             _actual_version(r), _fmt_size(r["expected"]["size"]),
             _fmt_size((r.get("actual") or {}).get("size")), " > ".join(r["found_in"]), _detail(r)]
            for r in report["rows"]]
    lines.append(tabulate(rows, headers=["status", "file", "platform", "published version", "found version",
                                         "published size", "found size", "found in", "details"],
                          tablefmt="simple", disable_numparse=True))
    if report["unlisted"]:
        lines += ["", "Delivered but not in the published table:"]
        lines.append(tabulate([[u["name"], u["platform"] or "", u["pe_version"] or u["file_table_version"] or "",
                                _fmt_size(u["size"]), " > ".join(u["found_in"])] for u in report["unlisted"]],
                              headers=["file", "platform", "version", "size", "found in"], tablefmt="simple",
                              disable_numparse=True))
    if report["issues"]:
        lines += ["", "Issues:"] + [f"  - {i}" for i in report["issues"]]
    lines += ["", "Package signatures" + (" (required):" if report.get("require_signature") else ":")]
    lines += [f"  {_package_sig(s)}" for s in report.get("signatures", [])]
    lines += [f"  FAIL: {f}" for f in report.get("signature_findings", [])]
    lines += ["", "Pairing:"] + [f"  {r['name']} ({r['platform']}): {r['pairing']}" for r in report["rows"]]
    lines += ["", "Inputs:"] + [f"  {i['role']}: {i['path']} sha256 {i['sha256']}" for i in report["inputs"]]
    lines += ["", "SHA-256 of delivered files:"] + [
        f"  {d['sha256'] or '(not read)'}  {' > '.join(d['found_in'])}" for d in report["delivered"]]
    lines.append(f"\n{report['tool']['name']} {report['tool']['version']}, {report['time']}")
    return "\n".join(lines)


def _md_escape(text: Any) -> str:
    return str("" if text is None else text).replace("|", "\\|").replace("\n", " ")


def render_markdown(report: dict) -> str:
    out = [f"# Hotfix verification: {report['verdict'].upper()}", "", _summary_line(report), ""]
    out.append("| status | file | platform | published version | found version | published size | found size | "
               "found in | details |")
    out.append("|---|---|---|---|---|---|---|---|---|")
    for r in report["rows"]:
        out.append("| " + " | ".join(_md_escape(x) for x in [
            f"**{r['status']}**", r["name"], r["platform"], r["expected"]["version"], _actual_version(r),
            _fmt_size(r["expected"]["size"]), _fmt_size((r.get("actual") or {}).get("size")),
            " > ".join(r["found_in"]), _detail(r)]) + " |")
    if report["unlisted"]:
        out += ["", "## Delivered but not listed", "", "| file | platform | size | found in |", "|---|---|---|---|"]
        for u in report["unlisted"]:
            out.append(f"| {_md_escape(u['name'])} | {_md_escape(u['platform'])} | {_fmt_size(u['size'])} | "
                       f"{_md_escape(' > '.join(u['found_in']))} |")
    if report["issues"]:
        out += ["", "## Issues", ""] + [f"- {_md_escape(i)}" for i in report["issues"]]
    out += ["", "## Inputs", ""] + [f"- {i['role']}: `{i['path']}` — SHA-256 `{i['sha256']}`"
                                     for i in report["inputs"]]
    out += ["", "## Delivered files (SHA-256)", ""] + [
        f"- `{d['sha256'] or 'not read'}` {_md_escape(' > '.join(d['found_in']))}" for d in report["delivered"]]
    out += ["", f"_{report['tool']['name']} {report['tool']['version']}, {report['time']}_", ""]
    return "\n".join(out)


def render_junit(report: dict) -> str:
    """One test case per published row (for CI dashboards); unlisted files are one more case."""
    failures = sum(1 for r in report["rows"] if r["status"] != "pass")
    unlisted_fails = bool(report["unlisted"]) and not report.get("allow_unlisted")
    suite = ET.Element("testsuite", name="msitools verify", tests=str(len(report["rows"]) + 1),
                       failures=str(failures + int(unlisted_fails)), errors="0", timestamp=report["time"])
    props = ET.SubElement(suite, "properties")
    for item in report["inputs"]:
        ET.SubElement(props, "property", name=f"{item['role']} sha256", value=str(item["sha256"]))
    for r in report["rows"]:
        case = ET.SubElement(suite, "testcase", classname=r["section"] or "published table",
                             name=f"{r['name']} ({r['platform']})")
        if r["status"] != "pass":
            failure = ET.SubElement(case, "failure", type=r["status"], message=f"{r['status']}: {_detail(r)}")
            failure.text = " > ".join(r["found_in"]) or r.get("pairing") or ""
        out = ET.SubElement(case, "system-out")
        out.text = f"found in: {' > '.join(r['found_in'])}\nsha256: {r['sha256']}\npairing: {r['pairing']}"
    case = ET.SubElement(suite, "testcase", classname="delivery", name="no unlisted files")
    if report["unlisted"]:
        tag = "failure" if unlisted_fails else "skipped"
        el = ET.SubElement(case, tag, message=f"{len(report['unlisted'])} delivered file(s) not in the table")
        el.text = "\n".join(" > ".join(u["found_in"]) for u in report["unlisted"])
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


def render_html(report: dict) -> str:
    e = html.escape
    rows = []
    for r in report["rows"]:
        rows.append("<tr>" + "".join([
            f"<td class='{e(r['status'])}'>{e(r['status'])}</td>",
            f"<td>{e(r['name'])}</td>", f"<td>{e(str(r['platform']))}</td>",
            f"<td>{e(str(r['expected']['version']))}</td>", f"<td>{e(_actual_version(r))}</td>",
            f"<td>{e(_fmt_size(r['expected']['size']))}</td>",
            f"<td>{e(_fmt_size((r.get('actual') or {}).get('size')))}</td>",
            f"<td>{e(' > '.join(r['found_in']))}<br><span class='muted'>{e(r['pairing'])}</span></td>",
            f"<td>{e(_detail(r))}</td>",
            f"<td><code>{e(r['sha256'] or '')}</code></td>"]) + "</tr>")
    unlisted = "".join(f"<tr><td>{e(u['name'])}</td><td>{e(str(u['platform']))}</td><td>{e(_fmt_size(u['size']))}"
                       f"</td><td>{e(' > '.join(u['found_in']))}</td><td><code>{e(u['sha256'] or '')}</code></td></tr>"
                       for u in report["unlisted"])
    inputs = "".join(f"<li>{e(i['role'])}: <code>{e(i['path'])}</code><br>SHA-256 <code>{e(str(i['sha256']))}</code>"
                     f"</li>" for i in report["inputs"])
    issues = "".join(f"<li>{e(i)}</li>" for i in report["issues"])
    verdict = report["verdict"]
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Hotfix verification: {e(verdict.upper())}</title>
<style>{_CSS}</style></head><body>
<h1>Hotfix verification</h1>
<p class="verdict {e(verdict)}">{e(_summary_line(report))}</p>
<table><thead><tr><th>status</th><th>file</th><th>platform</th><th>published version</th><th>found version</th>
<th>published size</th><th>found size</th><th>found in</th><th>details</th><th>SHA-256</th></tr></thead>
<tbody>{''.join(rows)}</tbody></table>
<h2>Delivered but not listed</h2>
{'<table><thead><tr><th>file</th><th>platform</th><th>size</th><th>found in</th><th>SHA-256</th></tr></thead><tbody>'
 + unlisted + '</tbody></table>' if unlisted else '<p>None.</p>'}
{'<h2>Issues</h2><ul>' + issues + '</ul>' if issues else ''}
<h2>Inputs</h2><ul>{inputs}</ul>
<p class="muted">{e(report['tool']['name'])} {e(report['tool']['version'])}, {e(report['time'])}</p>
</body></html>
"""


RENDERERS = {"text": render_text, "markdown": render_markdown, "junit": render_junit, "html": render_html}
