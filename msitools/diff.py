"""``diff``: what differs between two packages, a package and its patched self, or two patches.

Each side is read into a :class:`Side` (tables by primary key, summary information,
streams by SHA-256, payload files by install path with size, version and SHA-256,
custom actions, the package signature); :func:`diff` compares them:

* tables: tables added and removed; for a table on both sides, columns added and
  removed, and rows added, removed and changed (by primary key, column by column);
* summary information: every field whose value differs;
* streams: added, removed, changed (by SHA-256; table streams are compared as tables);
* payload files (by install path, or member name for a patch): added, removed,
  changed size, version or SHA-256 (a file whose bytes cannot be read says so);
* custom actions: added, removed, changed (the CustomAction rows, by action);
* signatures: the Authenticode status and signer of each side.

For a patched side (a base with ``--patch``/``--transform``), the tables and files are
the patched ones; streams are the base's.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from typing import Any

from msitools.db.package import Package, open_package
from msitools.errors import MsiToolsError
from msitools.inventory import walk
from msitools.limits import DEFAULT_LIMITS, Limits
from msitools.pe.trust import signer_subject

Key = tuple


@dataclass
class TableData:
    columns: list[str]
    keys: list[str]
    rows: dict[Key, dict[str, Any]]


@dataclass
class Side:
    """Everything :func:`diff` compares, read from one package (patched or not)."""

    label: str
    kind: str
    tables: dict[str, TableData] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    streams: dict[str, str] = field(default_factory=dict)
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    signature: dict[str, Any] = field(default_factory=dict)
    unreadable: list[str] = field(default_factory=list)


def _cell(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray)):
        return hashlib.sha256(value).hexdigest()
    return value


def _tables(pkg: Package, view: Any) -> dict[str, TableData]:
    out: dict[str, TableData] = {}
    if view is not None:
        for name in view.table_names:
            table = view.table(name)
            columns = table.column_names
            keys = [columns[i] for i in table.key_index]
            rows = {}
            for row in table.iter_rows(False):
                record = {c: _cell(v) for c, v in zip(columns, row.values or ())}
                rows[tuple(record[k] for k in keys)] = record
            out[name] = TableData(columns, keys, rows)
        return out
    if pkg.kind not in ("msi", "msm", "msp"):
        return out
    for name in pkg.table_names:
        table = pkg.table(name)
        columns = table.column_names
        keys = [c.name for c in table.key_columns]
        rows = {}
        for record in table.records():
            record = {c: _cell(record.get(c)) for c in columns}
            rows[tuple(record[k] for k in keys)] = record
        out[name] = TableData(columns, keys, rows)
    return out


def _streams(pkg: Package) -> dict[str, str]:
    out = {}
    for info in pkg.streams:
        digest = hashlib.sha256()
        with pkg.open_stream(info.name) as reader:
            while block := reader.read(1 << 20):
                digest.update(block)
        out[info.name] = digest.hexdigest()
    for storage in pkg.storages:  # an .msp's transforms: compared as whole substorages
        out[f":{storage.name}"] = hashlib.sha256(pkg.storage_bytes(storage.name)).hexdigest()
    return out


def read_side(path: str, patches=(), transforms=(), limits: Limits = DEFAULT_LIMITS) -> Side:
    """One side of a diff: the package at *path*, with *patches* and *transforms* applied when given."""
    from msitools.pe.authenticode_msi import safe_signature_report

    label = os.path.basename(path) + "".join(f" + {os.path.basename(p)}" for p in (*transforms, *patches))
    with open_package(path, limits) as pkg:
        side = Side(label, pkg.kind)
        view = None
        if patches or transforms:
            from msitools.patch.msp import apply_patches_and_transforms

            view = apply_patches_and_transforms(pkg, patches, transforms)
        side.tables = _tables(pkg, view)
        side.summary = {k: _cell(v) for k, v in pkg.summary.to_dict().items()}
        side.streams = _streams(pkg)
        report = safe_signature_report(pkg)
        side.signature = {"status": report.get("status"), "signer": signer_subject(report)}
        try:
            for found in walk(path, limits=limits, view=view):
                item = found.item
                key = found.path if found.member is None else f"{found.path} ({found.member})"
                entry: dict[str, Any] = {"version": item.table_version}
                if item.error is not None:
                    entry["error"] = item.error
                else:
                    try:
                        spool = item.spool()
                        entry.update(size=spool.size, sha256=spool.sha256)
                    except MsiToolsError as exc:
                        entry["error"] = exc.message
                    finally:
                        item.close()
                side.files[key] = entry
        except MsiToolsError as exc:
            side.unreadable.append(f"payload: {exc.message}")
        finally:
            if view is not None:
                view.close()
    return side


def _dict_diff(old: dict[str, Any], new: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {k: {"old": old.get(k), "new": new.get(k)} for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)}


def _table_diff(old: TableData, new: TableData) -> dict[str, Any] | None:
    out: dict[str, Any] = {"columns_added": [c for c in new.columns if c not in old.columns],
                           "columns_removed": [c for c in old.columns if c not in new.columns],
                           "added": [], "removed": [], "changed": []}
    for key in sorted(set(new.rows) - set(old.rows), key=repr):
        out["added"].append({"key": list(key), "values": new.rows[key]})
    for key in sorted(set(old.rows) - set(new.rows), key=repr):
        out["removed"].append({"key": list(key), "values": old.rows[key]})
    for key in sorted(set(old.rows) & set(new.rows), key=repr):
        columns = _dict_diff(old.rows[key], new.rows[key])
        if columns:
            out["changed"].append({"key": list(key), "columns": columns})
    if not any(out.values()):
        return None
    return out


def _files_diff(old: dict[str, dict[str, Any]], new: dict[str, dict[str, Any]]) -> dict[str, Any]:
    changed = []
    for path in sorted(set(old) & set(new)):
        fields = _dict_diff(old[path], new[path])
        if fields:
            changed.append({"path": path, "fields": fields})
    return {"added": [{"path": p, **new[p]} for p in sorted(set(new) - set(old))],
            "removed": [{"path": p, **old[p]} for p in sorted(set(old) - set(new))], "changed": changed}


def diff(old: Side, new: Side) -> dict[str, Any]:
    """The differences between two sides (see the module documentation); ``identical`` when none."""
    tables: dict[str, Any] = {"added": sorted(set(new.tables) - set(old.tables)),
                              "removed": sorted(set(old.tables) - set(new.tables)), "changed": {}}
    for name in sorted(set(old.tables) & set(new.tables)):
        found = _table_diff(old.tables[name], new.tables[name])
        if found is not None:
            tables["changed"][name] = found
    streams = {"added": sorted(set(new.streams) - set(old.streams)),
               "removed": sorted(set(old.streams) - set(new.streams)),
               "changed": sorted(n for n in set(old.streams) & set(new.streams) if old.streams[n] != new.streams[n])}
    empty = TableData([], ["Action"], {})
    actions = _table_diff(old.tables.get("CustomAction", empty), new.tables.get("CustomAction", empty)) or {
        "added": [], "removed": [], "changed": []}
    report: dict[str, Any] = {
        "old": old.label, "new": new.label, "kinds": {"old": old.kind, "new": new.kind},
        "tables": tables, "summary": _dict_diff(old.summary, new.summary), "streams": streams,
        "files": _files_diff(old.files, new.files),
        "custom_actions": {k: actions[k] for k in ("added", "removed", "changed")},
        "signatures": {"old": old.signature, "new": new.signature} if old.signature != new.signature else {},
        "unreadable": [f"old: {u}" for u in old.unreadable] + [f"new: {u}" for u in new.unreadable],
    }
    report["identical"] = not (tables["added"] or tables["removed"] or tables["changed"] or report["summary"]
                               or any(streams.values()) or any(report["files"].values()) or report["signatures"]
                               or report["unreadable"])
    return report


def diff_files(old: str, new: str | None = None, *, patches=(), transforms=(),
               limits: Limits = DEFAULT_LIMITS) -> dict[str, Any]:
    """Compare the package *old* with *new* (with *patches*/*transforms* applied to it), or with
    itself patched when *new* is None."""
    old_side = read_side(old, limits=limits)
    new_side = read_side(new or old, patches, transforms, limits)
    return diff(old_side, new_side)
