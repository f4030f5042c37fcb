"""``verify --batch``: many hotfixes against their published tables in one run.

The manifest (CSV with a header, or JSON: a list of objects) gives per hotfix ``hotfix`` and
``table`` (paths relative to the manifest), and optionally ``sections`` and ``platforms``
(``;``-separated in CSV), ``allow_unlisted``, ``require_signature`` and ``input_format``.
Each entry is verified by :func:`verify_entry` (in this process, in *jobs* processes, or on
Dask); the client writes one JSON and one HTML report per hotfix, the summary (JSON, JUnit
with one suite per hotfix, an HTML index) and, with a catalog, one ``verdicts`` row each.
An entry that cannot be verified at all (a missing file, an unreadable table) is a failed
entry with its error, never skipped.
"""
from __future__ import annotations

import csv
import datetime as _dt
import json
import os
import re
from collections.abc import Callable, Iterator
from typing import Any

from msitools.errors import MsiToolsError, UsageError

TRUE = {"1", "true", "yes", "y"}


def read_manifest(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The entries of a batch manifest, paths made absolute (UsageError naming the line for a bad one)."""
    path = os.fspath(path)
    base = os.path.dirname(os.path.abspath(path))
    try:
        with open(path, encoding="utf-8-sig") as fh:
            text = fh.read()
    except OSError as exc:
        raise UsageError(f"cannot read the manifest: {exc.strerror or exc}", path) from None
    if text.lstrip().startswith(("[", "{")):
        try:
            raw = json.loads(text)
        except ValueError as exc:
            raise UsageError(f"the manifest is not valid JSON: {exc}", path) from None
        rows = raw.get("hotfixes", raw) if isinstance(raw, dict) else raw
        if not isinstance(rows, list):
            raise UsageError("a JSON manifest is a list of objects", path)
    else:
        rows = list(csv.DictReader(text.splitlines()))
    entries = []
    for n, row in enumerate(rows, start=1):
        if not isinstance(row, dict) or not row.get("hotfix") or not row.get("table"):
            raise UsageError(f"entry {n} needs a hotfix and a table", path)

        def listed(value: Any) -> list[str]:
            if isinstance(value, list):
                return [str(v) for v in value]
            return [v.strip() for v in str(value or "").split(";") if v.strip()]

        def flag(value: Any) -> bool:
            return value is True or str(value).strip().lower() in TRUE

        entries.append({"hotfix": os.path.join(base, str(row["hotfix"])),
                        "table": os.path.join(base, str(row["table"])),
                        "sections": listed(row.get("sections")), "platforms": listed(row.get("platforms")),
                        "allow_unlisted": flag(row.get("allow_unlisted")),
                        "require_signature": flag(row.get("require_signature")),
                        "input_format": str(row.get("input_format") or "auto"), "index": n})
    if not entries:
        raise UsageError("the manifest lists no hotfix", path)
    return entries


def verify_entry(entry: dict[str, Any]) -> dict[str, Any]:
    """Verify one manifest entry; the verdict, reasons, summary and the rendered reports (never raises)."""
    from msitools.render import json_text
    from msitools.render.verify import render_html, render_junit
    from msitools.verify import verify

    out: dict[str, Any] = {**entry, "verdict": "fail", "reasons": [], "summary": {}, "error": None,
                           "json": None, "html": None, "junit": None, "hotfix_sha256": None, "table_sha256": None}
    try:
        report = verify(entry["hotfix"], entry["table"], sections=entry["sections"], platforms=entry["platforms"],
                        allow_unlisted=entry["allow_unlisted"], require_signature=entry["require_signature"],
                        input_format=entry["input_format"])
    except MsiToolsError as exc:
        out["error"] = str(exc)
        out["reasons"] = [f"could not be verified: {exc}"]
        return out
    except OSError as exc:
        out["error"] = f"{entry['hotfix']}: {exc.strerror or exc}"
        out["reasons"] = [f"could not be verified: {out['error']}"]
        return out
    out.update(verdict=report.verdict, reasons=list(report.verdict_reasons), summary=report.summary,
               json=json_text(report), html=render_html(report), junit=render_junit(report),
               hotfix_sha256=report.inputs[0].sha256, table_sha256=report.inputs[1].sha256)
    return out


def local_runner(jobs: int) -> Callable[[list[dict[str, Any]]], Iterator[dict[str, Any]]]:
    def run(entries: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        if jobs <= 1 or len(entries) <= 1:
            for entry in entries:
                yield verify_entry(entry)
            return
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed

        context = multiprocessing.get_context("fork" if hasattr(os, "fork") else "spawn")
        with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
            for future in as_completed([pool.submit(verify_entry, e) for e in entries]):
                yield future.result()
    return run


def _stem(entry: dict[str, Any], used: set[str]) -> str:
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", os.path.splitext(os.path.basename(entry["hotfix"]))[0]) or "hotfix"
    candidate, n = stem, 1
    while candidate.lower() in used:
        n += 1
        candidate = f"{stem}-{n}"
    used.add(candidate.lower())
    return candidate


def run_batch(manifest: str | os.PathLike[str], out_dir: str | os.PathLike[str], *, jobs: int = 1,
              runner: Callable[[list[dict[str, Any]]], Iterator[dict[str, Any]]] | None = None,
              db: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Verify every entry of *manifest*; reports under *out_dir*; the summary (also written there)."""
    from msitools.base.fsutil import write_file

    entries = read_manifest(manifest)
    if db is not None:  # a catalog that cannot take the verdicts is refused before any work
        from msitools.library.schema import open_catalog

        open_catalog(db).close()
    out = os.fspath(out_dir)
    os.makedirs(out, exist_ok=True)
    results = {r["index"]: r for r in (runner or local_runner(jobs))(entries)}
    used: set[str] = set()
    items = []
    for entry in entries:
        result = results[entry["index"]]
        stem = _stem(entry, used)
        reports = {}
        for suffix, key in ((".json", "json"), (".html", "html")):
            if result[key]:
                write_file(os.path.join(out, stem + suffix), result[key].encode("utf-8"), force=True)
                reports[key] = stem + suffix
        items.append({"hotfix": entry["hotfix"], "table": entry["table"], "sections": entry["sections"],
                      "verdict": result["verdict"], "reasons": result["reasons"], "summary": result["summary"],
                      "error": result["error"], "reports": reports, "junit": result["junit"],
                      "hotfix_sha256": result["hotfix_sha256"], "table_sha256": result["table_sha256"]})
    summary = {"manifest": os.path.abspath(os.fspath(manifest)), "output": out,
               "passed": sum(1 for i in items if i["verdict"] == "pass"),
               "failed": sum(1 for i in items if i["verdict"] != "pass"),
               "hotfixes": [{k: v for k, v in i.items() if k != "junit"} for i in items]}
    write_file(os.path.join(out, "summary.json"), (json.dumps(summary, indent=2) + "\n").encode(), force=True)
    write_file(os.path.join(out, "summary.xml"), junit_suites(items).encode("utf-8"), force=True)
    write_file(os.path.join(out, "index.html"), index_html(summary).encode("utf-8"), force=True)
    if db is not None:
        record_verdicts(db, items)
    return summary


def junit_suites(items: list[dict[str, Any]]) -> str:
    """One ``<testsuites>`` document: each hotfix's own suite, an unverifiable one as a failing suite."""
    from xml.etree import ElementTree as ET

    root = ET.Element("testsuites")
    for item in items:
        if item["junit"]:
            root.append(ET.fromstring(item["junit"].split("?>", 1)[-1]))
            continue
        suite = ET.SubElement(root, "testsuite", name=os.path.basename(item["hotfix"]), tests="1", failures="1",
                              errors="0")
        case = ET.SubElement(suite, "testcase", classname="batch", name="verify")
        ET.SubElement(case, "failure", type="error", message=item["error"] or "could not be verified")
    root.set("tests", str(sum(int(s.get("tests", "0")) for s in root)))
    root.set("failures", str(sum(int(s.get("failures", "0")) for s in root)))
    return ET.tostring(root, encoding="unicode", xml_declaration=True)


def index_html(summary: dict[str, Any]) -> str:
    from msitools.render.html import banner, esc, page

    rows = "".join(
        f"<tr class='{'passing' if h['verdict'] == 'pass' else 'failing'}'>"
        f"<td data-label='verdict'><span class='badge {'pass' if h['verdict'] == 'pass' else 'mismatch'}'>"
        f"{esc(h['verdict'])}</span></td>"
        f"<td data-label='hotfix'>{esc(os.path.basename(h['hotfix']))}</td>"
        f"<td data-label='table'>{esc(os.path.basename(h['table']))}</td>"
        f"<td data-label='reasons'>{esc('; '.join(h['reasons']) or '-')}</td>"
        f"<td data-label='report'>" + (f"<a href='{esc(h['reports']['html'])}'>report</a>"
                                       if h["reports"].get("html") else "-") + "</td></tr>"
        for h in summary["hotfixes"])
    failed = summary["failed"]
    body = banner(not failed, f"Batch verification: {len(summary['hotfixes'])} hotfixes",
                  f"{summary['passed']} pass, {failed} fail", [os.path.basename(summary["manifest"])])
    body += ("<table><thead><tr><th>verdict</th><th>hotfix</th><th>table</th><th>reasons</th><th>report</th></tr>"
             f"</thead><tbody>{rows}</tbody></table>")
    return page(f"Batch verification: {summary['passed']} pass, {failed} fail", body)


def record_verdicts(db: str | os.PathLike[str], items: list[dict[str, Any]]) -> None:
    """One ``verdicts`` row per hotfix (linked to its package when the catalog holds it)."""
    from msitools.library.schema import open_catalog

    conn = open_catalog(db)
    now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    try:
        with conn:
            for item in items:
                path = os.path.abspath(item["hotfix"])
                row = conn.execute("SELECT id FROM packages WHERE path = ? AND parent_id IS NULL", (path,)).fetchone()
                conn.execute(
                    "INSERT INTO verdicts (package_id, hotfix, hotfix_sha256, table_path, table_sha256, sections, "
                    "verdict, reasons, summary, report, verified_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                    (row[0] if row else None, path, item["hotfix_sha256"], os.path.abspath(item["table"]),
                     item["table_sha256"], "; ".join(item["sections"]), item["verdict"], json.dumps(item["reasons"]),
                     json.dumps(item["summary"]), item["reports"].get("json"), now))
    finally:
        conn.close()


def batch_text(summary: dict[str, Any]) -> str:
    lines = [f"{'PASS' if h['verdict'] == 'pass' else 'FAIL'}  {os.path.basename(h['hotfix'])}"
             + (f" — {'; '.join(h['reasons'])}" if h["reasons"] else "") for h in summary["hotfixes"]]
    lines.append(f"{summary['passed']} pass, {summary['failed']} fail; reports in {summary['output']}")
    return "\n".join(lines)

