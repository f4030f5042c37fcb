"""Renderers of the reading reports (:mod:`msitools.describe`): ``info``, ``tables``, ``table``, ``streams``."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from msitools.db import idt
from msitools.describe import TableReport
from msitools.errors import UsageError
from msitools.render.text import key_value_lines, printable, render_csv, render_table

OP_MARK = {"insert": "+", "update": "~", "delete": "-", "none": ""}


def _list(value: Any) -> Any:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) if value else "-"
    return value


def cabinet_info_text(data: dict[str, Any]) -> str:
    """``info`` of a cabinet as text: header, set, folders, members, issues."""
    h = data["header"]
    lines = [f"{data['path']}: {data['kind'].upper()}", "", "Header:"]
    link = {k: f"{h[k]['cabinet']} ({h[k]['disk']})" if h[k] else "-" for k in ("previous", "next")}
    lines.append(key_value_lines([
        ("size", f"{h['size']:,} bytes"), ("version", h["version"]), ("set id", h["set_id"]),
        ("index in set", h["index_in_set"]), ("folders", h["folders"]), ("files", h["files"]),
        ("reserve (header/folder/data)", "/".join(str(h["reserve"][k]) for k in ("header", "folder", "data"))),
        ("previous cabinet", link["previous"]), ("next cabinet", link["next"]),
        ("signature", f"{h['signature']['status']} ({h['signature']['reason']})")]))
    if len(data["set"]) > 1:
        lines += ["", f"Cabinet set ({len(data['set'])}): " + ", ".join(data["set"])]
    lines += ["", f"Folders ({len(data['folders'])}):"]
    lines.append(render_table(["folder", "compression", "data blocks", "members", "cabinets"],
                              [(f["index"], f["compression"], f["data_blocks"], f["members"], ", ".join(f["cabinets"]))
                               for f in data["folders"]]) if data["folders"] else "  (none)")
    lines += ["", f"Members ({len(data['members'])}):"]
    lines.append(render_table(["name", "size", "date", "folder", "cabinet"],
                              [(printable(m["name"]), m["size"], m["date"], m["folder"], m["cabinet"])
                               for m in data["members"]]) if data["members"] else "  (none)")
    if data["issues"]:
        lines += ["", "Issues:"] + [f"  - {i}" for i in data["issues"]]
    return "\n".join(lines)


def exe_info_text(data: dict[str, Any]) -> str:
    """``info`` of an executable: its kind, PE facts, signature, containers and members."""
    pe, sig = data["pe"], data["signature"]
    lines = [f"{data['path']}: {data['kind'].upper()} — {data['description']}", ""]
    lines.append(key_value_lines([
        ("machine", pe["machine"]), ("file version", pe["file_version"]), ("sections", ", ".join(pe["sections"])),
        ("image ends at", f"{pe['image_end']:,}"), ("overlay", f"{pe['overlay']['size']:,} bytes at "
                                                               f"{pe['overlay']['offset']:,}"),
        ("signature", f"{sig.get('status')}" + (f" ({sig.get('signer')})" if sig.get("signer") else ""))]))
    if data.get("bundle"):
        b = data["bundle"]
        lines += ["", "Bundle:", key_value_lines([("bundle id", b.get("bundle_id")), ("stub size", b.get("stub_size")),
                                                  ("containers", b.get("containers")),
                                                  ("packages", ", ".join(p["id"] for p in b.get("packages", [])))])]
    lines += ["", f"Containers ({len(data['containers'])}):"]
    lines.append(render_table(["container", "offset", "size"], [(c["label"], c["offset"], c["size"])
                                                                for c in data["containers"]])
                 if data["containers"] else "  (none)")
    lines += ["", f"Members ({len(data['members'])}):"]
    lines.append(render_table(["name", "size", "date", "container"],
                              [(printable(m["name"]), m["size"], m["date"], m["container"]) for m in data["members"]])
                 if data["members"] else "  (none)")
    if data["issues"]:
        lines += ["", "Issues:"] + [f"  - {i}" for i in data["issues"]]
    return "\n".join(lines)


def info_text(data: dict[str, Any]) -> str:
    """``info`` as text: kind, summary, tables, streams, substorages, issues (a cabinet, an executable: theirs)."""
    if data.get("kind") in ("cab", "msu"):
        return cabinet_info_text(data)
    if "pe" in data and "containers" in data:
        return exe_info_text(data)
    lines = [f"{data['path']}: {data['kind'].upper()}", "", "Summary information:"]
    lines.append(key_value_lines((k.replace("_", " "), _list(v)) for k, v in data["summary"].items()))
    lines += ["", f"Tables ({len(data['tables'])}):"]
    lines.append(render_table(["table", "rows"], data["tables"].items()) if data["tables"] else "  (none)")
    lines += ["", f"Streams ({len(data['streams'])}):"]
    lines.append(render_table(["stream", "size"], [(s["name"], s["size"]) for s in data["streams"]])
                 if data["streams"] else "  (none)")
    lines += ["", f"Substorages ({len(data['storages'])}):"]
    lines.append(render_table(["storage", "class"], [(s["name"], s["clsid"]) for s in data["storages"]])
                 if data["storages"] else "  (none)")
    if data["issues"]:
        lines += ["", "Issues:"] + [f"  - {i}" for i in data["issues"]]
    return "\n".join(lines)


def _tables_rows(data: dict[str, Any]) -> tuple[list[str], list[tuple[Any, ...]]]:
    tables = data["tables"]
    if tables and "changes" in tables[0]:  # a patched database
        return (["table", "rows", "columns", "action", "inserted", "updated", "deleted"],
                [(t["name"], t["rows"], len(t["columns"]), t["action"] or "", t["changes"]["insert"],
                  t["changes"]["update"], t["changes"]["delete"]) for t in tables])
    return ["table", "rows", "columns"], [(t["name"], t["rows"], len(t["columns"])) for t in tables]


def tables_text(data: dict[str, Any]) -> str:
    headers, rows = _tables_rows(data)
    return render_table(headers, rows)


def tables_csv(data: dict[str, Any]) -> str:
    headers, rows = _tables_rows(data)
    if len(headers) == 3:
        headers = ["name", *headers[1:]]
    return render_csv(headers, rows)


def table_text(report: TableReport) -> str:
    if report.ops is None:
        return render_table(report.column_names, report.rows)
    return render_table(["op", *report.column_names],
                        [[OP_MARK[op], *row] for row, op in zip(report.rows, report.ops)])


def table_csv(report: TableReport) -> str:
    if report.ops is None:
        return render_csv(report.column_names, report.rows)
    return render_csv(["@op", *report.column_names], [[op, *row] for row, op in zip(report.rows, report.ops)])


def table_idt(report: TableReport) -> str:
    if report.ops is not None:
        raise UsageError("the IDT format shows stored tables, not a patched view (use json, csv or text)")
    return idt.table_text(report.name, report.columns, report.rows)


def streams_text(data: dict[str, Any]) -> str:
    text = render_table(["stream", "size"], [(s["name"], s["size"]) for s in data["streams"]])
    if data["storages"]:
        text += "\n\nSubstorages: " + ", ".join(printable(s) for s in data["storages"])
    return text


def streams_csv(data: dict[str, Any]) -> str:
    return render_csv(["name", "size"], [(s["name"], s["size"]) for s in data["streams"]])


INFO_RENDERERS: dict[str, Callable[[Any], str]] = {"text": info_text}
TABLES_RENDERERS: dict[str, Callable[[Any], str]] = {"text": tables_text, "csv": tables_csv}
TABLE_RENDERERS: dict[str, Callable[[Any], str]] = {"text": table_text, "csv": table_csv, "idt": table_idt}
STREAMS_RENDERERS: dict[str, Callable[[Any], str]] = {"text": streams_text, "csv": streams_csv}
