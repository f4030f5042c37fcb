"""JSON-ready views of packages and tables (the documented ``--format json`` shapes)."""
from __future__ import annotations

from typing import Any

from msitools.db.package import Package
from msitools.db.table import Table


def package_info(pkg: Package) -> "dict[str, Any]":
    """``{"path", "kind", "summary", "tables": {NAME: ROWS}, "streams": [...], "storages": [...]}``."""
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
        "issues": list(pkg.issues) + (list(pkg.database.pool.issues) if pkg.database else []),
    }


def tables_list(pkg: Package) -> "dict[str, Any]":
    """``{"tables": [{"name", "rows", "columns"}]}`` (columns = the column names).

    For a transform: the tables it changes, ``rows`` = its records for that table, plus ``action``.
    """
    if pkg.kind == "mst":
        from msitools.db.transform import Transform

        changes = Transform(pkg.cfb, pkg.cfb.root, pkg.path, pkg.path, pkg.limits).changes()
        return {"tables": [{"name": c.table, "rows": len(c.rows), "columns": [col.name for col in c.columns],
                            "action": c.action} for c in changes]}
    out = []
    for name in pkg.table_names:
        table = pkg.get_table(name)
        if table is None:
            out.append({"name": name, "rows": None, "columns": []})
        else:
            out.append({"name": name, "rows": table.row_count, "columns": table.column_names})
    return {"tables": out}


def column_info(table: Table) -> "list[dict[str, Any]]":
    return [c.describe() for c in table.columns]


def table_dict(table: Table, rows=None, extra_keys=None) -> "dict[str, Any]":
    """``{"table": NAME, "columns": [{"name", "type", "nullable", "key", ...}], "rows": [{COL: VALUE}]}``."""
    names = table.column_names
    rows = table.rows if rows is None else rows
    return {
        "table": table.name,
        "columns": column_info(table),
        "rows": [dict(zip(names, row)) for row in rows],
    }
