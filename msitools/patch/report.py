"""The patch report (``msitools patch``): targets, metadata, transform pairs, payload, files and tables changed."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from msitools.db.directory import long_file_name, resolve_directories
from msitools.db.package import Package
from msitools.db.patched import PatchedDatabase
from msitools.db.transform import OP_INSERT, OP_UPDATE, TableChanges, Transform
from msitools.errors import MsiToolsError, PatchError
from msitools.findings import Level
from msitools.patch.delta import parse_delta
from msitools.patch.msp import Msp, merge_file_rows
from msitools.patch.payload import PatchPayload
from msitools.payload.items import KIND_DELTA, PayloadItem


def _delta_header_streams(msp: Msp, changes: list[tuple[Transform, TableChanges]]) -> \
        dict[tuple[Any, Any], dict[str, Any]]:
    """Patch rows by (File_, Sequence), with their header decoded from Patch.Header / MsiPatchHeaders."""
    headers_by_ref: dict[str, tuple[Transform, str]] = {}
    for t, change in changes:
        if change.table == "MsiPatchHeaders":
            for rc in change.rows:
                if rc.op == OP_INSERT and rc.values.get("Header"):
                    if "StreamRef" not in rc.values:
                        raise PatchError(f"transform {t.name!r}: MsiPatchHeaders has no StreamRef column", msp.path)
                    headers_by_ref[rc.values["StreamRef"]] = (t, rc.values["Header"])
    out: dict[tuple[Any, Any], dict[str, Any]] = {}
    for t, change in changes:
        if change.table != "Patch":
            continue
        for rc in change.rows:
            if rc.op != OP_INSERT:
                continue
            row = dict(rc.values)
            header_source = None
            if row.get("Header"):
                header_source = (t, row["Header"])
            elif row.get("StreamRef_") and row["StreamRef_"] in headers_by_ref:
                header_source = headers_by_ref[row["StreamRef_"]]
            if header_source is not None:
                transform, stream = header_source
                data = transform.read_stream(stream)
                if data is None:
                    row["header"] = None
                    row["header_issue"] = f"header stream {stream!r} missing from transform {transform.name!r}"
                else:
                    try:
                        row["header"] = parse_delta(data, f"{transform.name}/{stream}").to_dict()
                    except MsiToolsError as exc:
                        row["header"] = None
                        row["header_issue"] = exc.message
            out[(row.get("File_"), row.get("Sequence"))] = row
    return out


def _member_entry(stream: str, item: PayloadItem) -> dict[str, Any]:
    member = item.member
    assert member is not None
    entry: dict[str, Any] = {
        "cabinet": stream, "name": member.name, "size": member.size,
        "date": member.date_time.isoformat() if member.date_time else None,
        "compression": member.compression,
    }
    if item.error is not None:
        entry["kind"] = "unreadable"
        entry["error"] = item.error
    elif member.size == 0:
        entry["kind"] = "empty"
    elif item.kind == KIND_DELTA:
        entry["kind"] = "delta"
        if item.delta and "error" in item.delta:
            entry["delta"] = None
            entry["delta_issue"] = item.delta["error"]
        else:
            entry["delta"] = item.delta
    else:
        entry["kind"] = "file"
    if item.chunks is not None:
        for _chunk in item.chunks:  # read to the end: every block is decoded and checked
            pass
    return entry


def cabinet_members(msp: Msp) -> tuple[list[dict[str, Any]], list[str], dict[str, dict[str, Any]]]:
    """Every member of every patch cabinet, each classified as a whole file, a delta or empty.

    Returns the members, the issues, and the members by the File key they answer.
    """
    out: list[dict[str, Any]] = []
    by_key: dict[str, dict[str, Any]] = {}
    walk = PatchPayload(msp, name_from_pe=False)
    counts = dict.fromkeys(msp.cabinet_streams(), 0)
    for item in walk:
        if item.member is None:
            continue
        stream = item.found_in[0]
        counts[stream] = counts.get(stream, 0) + 1
        try:
            entry = _member_entry(stream, item)
        except MsiToolsError as exc:
            entry = {"cabinet": stream, "name": item.member.name, "size": item.member.size,
                     "date": item.member.date_time.isoformat() if item.member.date_time else None,
                     "compression": item.member.compression, "kind": "unreadable", "error": exc.message}
        out.append(entry)
        if item.key is not None:
            by_key.setdefault(item.key, entry)
    issues = [str(f) for f in walk.findings if f.level == Level.ERROR and "> File" not in f.where]
    unreadable = {f.where.rsplit(" > ", 1)[-1] for f in walk.findings if f.level == Level.ERROR}
    issues += [f"cabinet {stream} has no members" for stream, n in counts.items() if not n and stream not in unreadable]
    return out, issues, by_key


def patch_report(msp: Msp, base: Package | None = None) -> dict[str, Any]:
    """Everything a reviewer needs to know about a patch (the ``msitools patch`` JSON)."""
    view = PatchedDatabase(base) if base is not None else None
    decisions = msp.apply_to(view) if view is not None else []
    base_schemas = view.schemas() if view is not None else None
    # decode each transform against the base as it was before the patch (changes are per transform)
    base_db = base.database if base is not None else None
    base_only = {n: base_db.schema(n) for n in base_db.table_names} if base_db is not None else None
    changes: list[tuple[Transform, TableChanges]] = []
    for t in msp.transforms:
        try:
            decoded = t.changes(base_only)
        except MsiToolsError:
            decoded = t.changes(base_schemas) if base_schemas is not None else t.changes()
        changes.extend((t, c) for c in decoded)
    transforms = []
    for pair in msp.pairs:
        for t in pair.transforms:
            info = t.info
            decision = next((d for d in decisions if d["transform"] == pair.name), None)
            transforms.append({
                "name": t.name,
                "role": "patch" if t.name.startswith("#") else "product",
                **{k: info.get(k) for k in ("target_product_code", "target_product_version", "upgrade_product_code",
                                            "upgrade_product_version", "upgrade_code", "platform", "languages",
                                            "validation", "error_conditions")},
                "tables": [c.table for tt, c in changes if tt is t],
                "applies_to_base": (decision["applied"] if decision else None),
                "reasons": (decision["reasons"] if decision else []),
            })
    members, cab_issues, members_by_key = cabinet_members(msp)
    deltas = _delta_header_streams(msp, changes)
    files = _files_changed(changes, view, members_by_key, deltas)
    other: dict[str, dict[str, Any]] = {}
    for t, change in changes:
        if change.table in ("File",):
            continue
        entry = other.setdefault(change.table, {"insert": 0, "update": 0, "delete": 0, "action": None,
                                                "schema": change.schema_source, "rows": [], "issues": []})
        if change.action:
            entry["action"] = change.action
        for rc in change.rows:
            entry[rc.op] += 1
            entry["rows"].append({"@op": rc.op, "@transform": t.name, **rc.values})
        entry["issues"].extend(change.issues)
        if change.raw is not None:
            entry["raw_records"] = change.raw.hex()
    return {
        "path": msp.path,
        "patch_code": msp.patch_code,
        "obsoleted_patch_codes": msp.obsoleted,
        "target_product_codes": msp.target_product_codes,
        "metadata": msp.metadata(),
        "metadata_rows": msp.metadata_rows(),
        "sequence": msp.sequence_rows(),
        "transforms": transforms,
        "media": msp.media_rows(base_only),
        "patch_package": msp.patch_package_rows(base_only),
        "cabinets": [{"stream": s, "members": [m for m in members if m["cabinet"] == s]}
                     for s in msp.cabinet_streams()],
        "files_changed": files,
        "tables": other,
        "base": base.path if base is not None else None,
        "applied": decisions,
        "issues": msp.issues + cab_issues + (list(_view_issues(view)) if view is not None else []),
    }


def _view_issues(view: PatchedDatabase) -> Iterable[str]:
    for record in view.applied:
        for issue in record.issues:
            yield f"{record.label}: {issue}"


def _files_changed(changes: list[tuple[Transform, TableChanges]], view: PatchedDatabase | None,
                   members: dict[str, dict[str, Any]], deltas: dict[tuple[Any, Any], dict[str, Any]]) -> \
        list[dict[str, Any]]:
    merged, _findings = merge_file_rows(changes)
    tree = None
    component_dirs: dict[Any, Any] = {}
    patched_files: dict[Any, dict[str, Any]] = {}
    if view is not None:
        tree = resolve_directories((r.get("Directory"), r.get("Directory_Parent"), r.get("DefaultDir"))
                                   for r in view.records("Directory"))
        if view.has_table("Component"):
            comp = view.table("Component")
            names = comp.column_names
            for row in comp.iter_rows(False):
                rec = dict(zip(names, row.values or ()))
                component_dirs[rec.get("Component")] = rec.get("Directory_")
        if view.has_table("File"):
            ft = view.table("File")
            for primary, file_row in ft.rows.items():
                patched_files[primary[0]] = dict(zip(ft.column_names, file_row.values or ()))
    base_keys = _base_keys(view) if view is not None else set()
    out = []
    for key, change in merged.items():
        values = change.values
        final = patched_files.get(key, values)
        component = final.get("Component_")
        entry: dict[str, Any] = {
            "file": key,
            "op": change.op if view is None else (OP_INSERT if key not in base_keys else OP_UPDATE),
            "file_name": long_file_name(final.get("FileName")) if final.get("FileName") else None,
            "component": component,
            "directory": None,
            "size": final.get("FileSize"),
            "version": final.get("Version"),
            "language": final.get("Language"),
            "attributes": final.get("Attributes"),
            "sequence": final.get("Sequence"),
            "changed_columns": change.changed_columns,
        }
        if tree is not None and component in component_dirs:
            entry["directory"] = "\\".join(tree.path_of(component_dirs[component]))
        patch_rows = [row for (file_key, _seq), row in deltas.items() if file_key == key]
        member = members.get(key)
        if patch_rows:
            entry["payload"] = "delta"
            entry["patch"] = [{k: v for k, v in row.items() if k not in ("Header",)} for row in patch_rows]
        elif member is not None:
            entry["payload"] = "delta" if member.get("kind") == "delta" else "whole"
        else:
            entry["payload"] = "none"
        if member is not None:
            entry["cabinet"] = member["cabinet"]
            entry["member_size"] = member["size"]
            if member.get("delta"):
                entry["delta"] = member["delta"]
        out.append(entry)
    return out


def _base_keys(view: PatchedDatabase) -> set[str]:
    if not view.db.has_table("File"):
        return set()
    return {row[0] for row in view.db.table("File").rows}
