"""``query``: named questions over the catalog, and read-only SQL over its views.

Every question returns ``{"question", "columns", "rows"}``.  ``--sql`` runs on a read-only
connection (``mode=ro``), so a query can never change the catalog.
"""
from __future__ import annotations

import os
import re
import sqlite3
from typing import Any

from msitools.errors import UsageError
from msitools.library.schema import open_catalog

QUESTIONS = {
    "file": "packages that deliver a file of this name (with --older-than: only versions below it)",
    "unsigned": "packages with no signature (not counting damaged ones)",
    "altered": "packages and payload files altered after signing",
    "system-actions": "custom actions that run code as SYSTEM (no impersonation)",
    "services": "services installed or controlled",
    "product": "packages whose product name contains the text",
    "errors": "packages that could not be read, with the reason",
}


def version_key(text: str | None) -> tuple[int, ...]:
    """``"1.2.10"`` -> ``(1, 2, 10)``: versions compared part by part, as numbers."""
    return tuple(int(p) for p in re.findall(r"\d+", text or ""))[:4] or (0,)


def _rows(conn: sqlite3.Connection, sql: str, params: tuple = ()) -> tuple[list[str], list[list[Any]]]:
    cur = conn.execute(sql, params)
    return [d[0] for d in cur.description or ()], [list(r) for r in cur.fetchall()]


def ask(db: str | os.PathLike[str], question: str, value: str | None = None,
        older_than: str | None = None) -> dict[str, Any]:
    """Answer a named question (:data:`QUESTIONS`)."""
    conn = open_catalog(db, readonly=True)
    try:
        if question == "file":
            if not value:
                raise UsageError("--file needs a file name")
            columns, rows = _rows(conn, "SELECT package, install_path, name, version, platform, size, sha256, "
                                        "signature_status, where_found FROM v_files WHERE removed = 0 AND "
                                        "name = ? COLLATE NOCASE ORDER BY package, install_path", (value,))
            if older_than:
                limit = version_key(older_than)
                at = columns.index("version")
                rows = [r for r in rows if r[at] and version_key(r[at]) < limit]
        elif question == "unsigned":
            columns, rows = _rows(conn, "SELECT path, kind, signature_status FROM v_unsigned ORDER BY path")
        elif question == "altered":
            columns, rows = _rows(conn, "SELECT package, file, signature_status FROM v_altered ORDER BY package")
        elif question == "system-actions":
            columns, rows = _rows(conn, "SELECT package, action, kind, description, execution, source "
                                        "FROM v_system_actions ORDER BY package, action")
        elif question == "services":
            columns, rows = _rows(conn, "SELECT package, name, display_name, start, account, action "
                                        "FROM v_services ORDER BY package, name")
        elif question == "product":
            columns, rows = _rows(conn, "SELECT path, product_name, product_version, product_code, manufacturer "
                                        "FROM packages WHERE removed = 0 AND product_name LIKE ? ORDER BY path",
                                  (f"%{value or ''}%",))
        elif question == "errors":
            columns, rows = _rows(conn, "SELECT path, error FROM packages WHERE error IS NOT NULL AND removed = 0 "
                                        "ORDER BY path")
        else:
            raise UsageError(f"unknown question {question!r} ({', '.join(QUESTIONS)})")
    finally:
        conn.close()
    return {"question": question, "columns": columns, "rows": rows}


def run_sql(db: str | os.PathLike[str], sql: str) -> dict[str, Any]:
    """Run *sql* on a read-only connection; a statement that would write is refused by SQLite itself."""
    conn = open_catalog(db, readonly=True)
    try:
        columns, rows = _rows(conn, sql)
    except sqlite3.Error as exc:
        raise UsageError(f"the query failed: {exc}", os.fspath(db)) from None
    finally:
        conn.close()
    return {"question": "sql", "sql": sql, "columns": columns, "rows": rows}
