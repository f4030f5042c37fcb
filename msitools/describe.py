"""What ``info``, ``tables``, ``table`` and ``streams`` report about a package (patched or not).

Each function returns a report object (a dict, or a :class:`TableReport`) whose
JSON is the documented shape; the renderers of :mod:`msitools.render.package`
turn it into text, CSV or IDT.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from msitools.db.columns import Column
from msitools.db.package import Package
from msitools.db.patched import PatchedDatabase, PatchedTable
from msitools.db.table import Table
from msitools.findings import Level


def package_info(pkg: Package) -> dict[str, Any]:
    """``{"path", "kind", "summary", "tables": {NAME: ROWS}, "streams": [...], "storages": [...], "issues"}``."""
    tables: dict[str, Any] = {}
    if pkg.kind == "mst":
        tables = {t["name"]: t["rows"] for t in tables_list(pkg)["tables"]}
    for name in pkg.table_names if pkg.kind != "mst" else []:
        table = pkg.get_table(name)
        tables[name] = table.row_count if table is not None else None
    return {
        "path": pkg.path,
        "kind": pkg.kind,
        "summary": pkg.summary.to_dict(),
        "tables": tables,
        "streams": [{"name": s.name, "size": s.size} for s in pkg.streams],
        "storages": [{"name": s.name, "clsid": s.clsid_text} for s in pkg.storages],
        "issues": pkg.truncation() + list(pkg.issues) + (list(pkg.database.pool.issues) if pkg.database else []),
    }


def cabinet_info(path: str) -> dict[str, Any]:
    """``info`` of a bare cabinet: ``{"path", "kind": "cab", "header", "set", "folders", "members", "issues"}``.

    *header* is the given cabinet's CFHEADER; *set* the cabinets of its set found beside
    it (by the names in the headers, case-insensitively); *folders* and *members* those of
    the whole set.
    """
    import os

    from msitools.payload.cabinet import CabinetPayload

    with CabinetPayload(path) as walk:
        names = [os.path.basename(c.name).lower() for c in walk.set.cabinets]
        given = os.path.basename(path).lower()
        h = walk.set.cabinets[names.index(given) if given in names else 0].header
        header = {"size": h.cb_cabinet, "version": f"{h.version_major}.{h.version_minor}", "set_id": h.set_id,
                  "index_in_set": h.i_cabinet, "folders": h.c_folders, "files": h.c_files, "flags": h.flags,
                  "reserve": {"header": h.cb_cf_header, "folder": h.cb_cf_folder, "data": h.cb_cf_data},
                  "previous": {"cabinet": h.prev_cabinet, "disk": h.prev_disk} if h.prev_cabinet else None,
                  "next": {"cabinet": h.next_cabinet, "disk": h.next_disk} if h.next_cabinet else None,
                  "signature": walk.own_signature()}
        folders = [{"index": f.index, "compression": f.describe(),
                    "data_blocks": sum(e.c_cf_data for _c, e in f.segments),
                    "members": len(f.members), "cabinets": [os.path.basename(c.name) for c, _e in f.segments]}
                   for f in walk.set.folders]
        members = [{"name": m.name, "size": m.size, "date": m.date_time.isoformat() if m.date_time else None,
                    "folder": m.folder, "compression": m.compression, "attributes": m.attributes,
                    "cabinet": os.path.basename(m.cabinet),
                    "continued": m.continued_from_prev or m.continued_to_next} for m in walk.members]
        return {"path": path, "kind": walk.kind, "header": header,
                "set": [os.path.basename(c.name) for c in walk.set.cabinets],
                "folders": folders, "members": members,
                "issues": [f.message for f in walk.findings if f.level != Level.INFO]}


def exe_info(path: str) -> dict[str, Any]:
    """``info`` of an executable: ``{"path", "kind": "sfx|iexpress|burn|pe", "description", "pe", "signature",
    "containers": [{"label", "offset", "size", "role"}], "bundle", "members", "issues"}``."""
    from msitools.payload.exe import KIND_NAMES, ExePayload
    from msitools.pe.image import read_pe_info

    with ExePayload(path) as walk:
        layout = walk.container.layout
        with open(path, "rb") as fh:
            head = fh.read(min(layout.file_size, 1 << 20))
        try:
            info = read_pe_info(head, path)
        except Exception:  # a header this small read cannot describe: the layout still can
            info = None
        overlay = layout.overlay
        pe = {"machine": info.platform if info else None, "file_version": info.file_version if info else None,
              "product_version": info.product_version if info else None, "sections": [s.name for s in layout.sections],
              "image_end": layout.image_end, "overlay": {"offset": overlay[0], "size": overlay[1]},
              "certificate_table": {"offset": layout.certificate_offset, "size": layout.certificate_size}}
        members = walk.listing()
        return {"path": path, "kind": walk.kind, "description": KIND_NAMES[walk.kind], "pe": pe,
                "signature": walk.own_signature(),
                "containers": [{"label": c.label, "offset": c.offset, "size": c.size, "role": c.role}
                               for c in walk.container.cabinets],
                "bundle": {**walk.container.bundle, "packages": walk.packages} if walk.container.bundle else None,
                "members": members, "issues": [f.message for f in walk.findings if f.level != Level.INFO]}


def tables_list(pkg: Package) -> dict[str, Any]:
    """``{"tables": [{"name", "rows", "columns"}]}`` (columns = the column names).

    For a transform: the tables it changes, ``rows`` = its records for that table, plus ``action``.
    """
    if pkg.kind == "mst":
        from msitools.db.transform import Transform

        changes = Transform(pkg.cfb, pkg.cfb.root, pkg.path, pkg.path, pkg.limits).changes()
        return {"tables": [{"name": c.table, "rows": len(c.rows), "columns": [col.name for col in c.columns],
                            "action": c.action} for c in changes]}
    out: list[dict[str, Any]] = []
    for name in pkg.table_names:
        table = pkg.get_table(name)
        if table is None:
            out.append({"name": name, "rows": None, "columns": []})
        else:
            out.append({"name": name, "rows": table.row_count, "columns": table.column_names})
    return {"tables": out}


def patched_tables_list(view: PatchedDatabase) -> dict[str, Any]:
    """The tables of a patched database with their changes: ``{"tables": [{..., "action", "changes"}]}``."""
    out = []
    for name in view.table_names:
        table = view.table(name)
        counts = {"insert": 0, "update": 0, "delete": 0}
        for row in table.iter_rows():
            if row.op in counts:
                counts[row.op] += 1
        out.append({"name": name, "rows": table.row_count, "columns": table.column_names,
                    "action": table.action, "changes": counts})
    return {"tables": out}


def streams_list(pkg: Package) -> dict[str, Any]:
    """``{"streams": [{"name", "size"}], "storages": [NAME, ...]}``."""
    return {"streams": [{"name": s.name, "size": s.size} for s in pkg.streams],
            "storages": [s.name for s in pkg.storages]}


@dataclass
class TableReport:
    """One table's columns and rows; for a patched table, each row's operation and the table's action."""

    name: str
    columns: Sequence[Column]
    rows: list[tuple[Any, ...]]
    ops: list[str] | None = None  # insert / update / delete / none per row (patched tables)
    action: str | None = None

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @classmethod
    def of(cls, table: Table) -> TableReport:
        return cls(table.name, table.columns, list(table.rows))

    @classmethod
    def patched(cls, table: PatchedTable) -> TableReport:
        rows: list[tuple[Any, ...]] = []
        ops: list[str] = []
        for row in table.iter_rows(True):
            values = row.base if row.deleted else row.values
            rows.append(tuple(values or ()))
            ops.append(row.op)
        return cls(table.name, table.columns, rows, ops, table.action)

    def to_dict(self) -> dict[str, Any]:
        names = self.column_names
        out: dict[str, Any] = {"table": self.name, "columns": [c.describe() for c in self.columns]}
        if self.ops is None:
            out["rows"] = [dict(zip(names, row)) for row in self.rows]
        else:
            out["action"] = self.action
            out["rows"] = [{**dict(zip(names, row)), "@op": op} for row, op in zip(self.rows, self.ops)]
        return out
