"""Text renderings of the transform and patch reports (strings; no printing)."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from msitools.render.package import OP_MARK
from msitools.render.text import key_value_lines, printable, render_table, show_value


def render_transform_text(report: dict) -> str:
    s = report["summary"]
    lines = [f"Transform {report['name']}",
             key_value_lines([
                 ("target product", f"{s.get('target_product_code')} {s.get('target_product_version') or ''}"),
                 ("upgrade product", f"{s.get('upgrade_product_code')} {s.get('upgrade_product_version') or ''}"),
                 ("upgrade code", s.get("upgrade_code")),
                 ("platform;language", f"{s.get('platform') or ''};{','.join(map(str, s.get('languages') or []))}"),
                 ("validation", ", ".join(s.get("validation") or []) or "-"),
                 ("error conditions", ", ".join(s.get("error_conditions") or []) or "-"),
             ])]
    for t in report["tables"]:
        c = t["counts"]
        head = f"\n{t['table']}" + (f" [{t['action']}]" if t["action"] else "")
        head += f"  (+{c['insert']} ~{c['update']} -{c['delete']}; schema from {t['schema']})"
        lines.append(head)
        if t["added_columns"]:
            lines.append("  added columns: " + ", ".join(f"{a['name']} ({a['idt']})" for a in t["added_columns"]))
        for issue in t["issues"]:
            lines.append(f"  ! {issue}")
        for ch in t["changes"]:
            key = "/".join(printable(k) for k in ch["key"])
            if ch["op"] == "update":
                parts = []
                for col, new in ch["values"].items():
                    if ch.get("old") is not None and col in ch["old"] and col not in t["columns"][:0]:
                        old = ch["old"].get(col)
                        if old == new and col in ch["key"]:
                            continue
                        parts.append(f"{col}: {show_value(old)} -> {show_value(new)}")
                    else:
                        parts.append(f"{col} = {show_value(new)}")
                lines.append(f"  ~ {key}: " + "; ".join(parts))
            elif ch["op"] == "insert":
                lines.append(f"  + {key}: " + ", ".join(f"{k}={show_value(v)}" for k, v in ch["values"].items()))
            else:
                lines.append(f"  - {key}")
            if ch.get("issue"):
                lines.append(f"    ! {ch['issue']}")
        if t.get("raw_records"):
            lines.append(f"  raw records: {t['raw_records']}")
    return "\n".join(lines)


def render_patch_text(r: dict) -> str:
    lines = [f"Patch {r['path']}",
             key_value_lines([
                 ("patch code", r["patch_code"]),
                 ("obsoletes", ", ".join(r["obsoleted_patch_codes"]) or "-"),
                 ("targets", ", ".join(r["target_product_codes"]) or "-"),
             ] + [(f"metadata {k}", v) for k, v in r["metadata"].items()])]
    if r["sequence"]:
        lines += ["", "MsiPatchSequence:", render_table(["PatchFamily", "ProductCode", "Sequence", "Attributes"],
                                                        [[s.get(k) for k in ("PatchFamily", "ProductCode", "Sequence",
                                                                             "Attributes")] for s in r["sequence"]])]
    lines += ["", "Transforms:", render_table(
        ["name", "target product", "target version", "upgrade version", "validation", "applies"],
        [[t["name"], t["target_product_code"], t["target_product_version"], t["upgrade_product_version"],
          ", ".join(t["validation"] or []),
          "" if t["applies_to_base"] is None else ("yes" if t["applies_to_base"] else "no: " + "; ".join(t["reasons"]))]
         for t in r["transforms"]])]
    media = [[m.get("DiskId"), m.get("LastSequence"), m.get("Cabinet"), m.get("Source"), m.get("@transform")]
             for m in r["media"]]
    lines += ["", "Media added:", render_table(["DiskId", "LastSequence", "Cabinet", "Source", "transform"], media)
              if media else "  (none)"]
    for cab in r["cabinets"]:
        lines += ["", f"Cabinet {cab['stream']}:", render_table(
            ["member", "size", "date", "compression", "kind"],
            [[m["name"], m["size"], m["date"], m["compression"], m.get("kind")] for m in cab["members"]])]
    lines += ["", f"Files changed ({len(r['files_changed'])}):"]
    if r["files_changed"]:
        lines.append(render_table(
            ["op", "file", "name", "directory", "size", "version", "language", "sequence", "payload"],
            [[f["op"], f["file"], f["file_name"], f["directory"], f["size"], f["version"], f["language"],
              f["sequence"], f["payload"]] for f in r["files_changed"]]))
        for f in r["files_changed"]:
            for p in f.get("patch", []):
                h = p.get("header") or {}
                lines.append(f"  delta for {f['file']}: {h.get('format')} new size {h.get('new_size')}, "
                             f"time {h.get('new_time')}, crc32 {h.get('new_crc32')}"
                             + (f" ({p['header_issue']})" if p.get("header_issue") else ""))
    lines += ["", "Other tables changed:"]
    for name, t in r["tables"].items():
        lines.append(f"  {name}{' [' + t['action'] + ']' if t['action'] else ''}: +{t['insert']} ~{t['update']} "
                     f"-{t['delete']} (schema from {t['schema']})")
        for row in t["rows"]:
            shown = {k: v for k, v in row.items() if not k.startswith("@")}
            values = ", ".join(f"{k}={show_value(v)}" for k, v in shown.items())
            lines.append(f"      {OP_MARK[row['@op']] or '='} {values}")
        for issue in t["issues"]:
            lines.append(f"      ! {issue}")
    if r["issues"]:
        lines += ["", "Issues:"] + [f"  - {i}" for i in r["issues"]]
    return "\n".join(lines)


PATCH_RENDERERS: dict[str, Callable[[Any], str]] = {"text": render_patch_text}
TRANSFORM_RENDERERS: dict[str, Callable[[Any], str]] = {"text": render_transform_text}
