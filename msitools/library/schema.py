"""The catalog: a SQLite database of a software library, its schema versioned by migrations.

``meta`` holds ``schema_version``; :data:`MIGRATIONS` lists the SQL that takes a catalog from
one version to the next, applied in order by :func:`open_catalog`.  Tables (one row per):

* ``packages``: a package file on disk (``parent_id`` NULL) or a package found inside one
  (``parent_id`` its container, ``path`` the chain ``outer.msi > hotfix.cab > x.msp``):
  kind, size, SHA-256, mtime, the fingerprint of its first and last MiB, product name,
  version and code, upgrade code, manufacturer, package code, title, subject, author,
  signature status and signer, error (a package that could not be read), scanned_at,
  removed (1 once the file is gone);
* ``files``: a payload file: install path, name, size, version, language, platform, SHA-256,
  signature status, where it was found;
* ``custom_actions``: action, type, kind, description, as_system, execution, source,
  target SHA-256, where found;
* ``services``, ``registry`` (under sensitive keys), ``findings`` (level, where, message);
* ``verdicts``: a batch verification of a package against a published table (linked to the
  package while the catalog holds those bytes at that path).

Views for ``query --sql``: ``v_files`` (files with their package's path), ``v_unsigned``,
``v_altered``, ``v_system_actions``, ``v_services``, ``v_verdicts``.
"""
from __future__ import annotations

import os
import sqlite3

from msitools.errors import UsageError

SCHEMA_VERSION = 1

MIGRATIONS: list[str] = [
    # 0 -> 1
    """
    CREATE TABLE packages (
        id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES packages(id) ON DELETE CASCADE,
        path TEXT NOT NULL UNIQUE, kind TEXT, size INTEGER, sha256 TEXT, mtime REAL, fingerprint TEXT,
        product_name TEXT, product_version TEXT, product_code TEXT, upgrade_code TEXT, manufacturer TEXT,
        package_code TEXT, title TEXT, subject TEXT, author TEXT, signature_status TEXT, signer TEXT,
        error TEXT, scanned_at TEXT, removed INTEGER NOT NULL DEFAULT 0);
    CREATE INDEX packages_parent ON packages(parent_id);
    CREATE TABLE files (
        id INTEGER PRIMARY KEY, package_id INTEGER NOT NULL REFERENCES packages(id) ON DELETE CASCADE,
        install_path TEXT, name TEXT, size INTEGER, version TEXT, language TEXT, platform TEXT, sha256 TEXT,
        signature_status TEXT, signer TEXT, where_found TEXT, error TEXT);
    CREATE INDEX files_name ON files(name COLLATE NOCASE);
    CREATE INDEX files_package ON files(package_id);
    CREATE TABLE custom_actions (
        id INTEGER PRIMARY KEY, package_id INTEGER NOT NULL REFERENCES packages(id) ON DELETE CASCADE,
        action TEXT, type INTEGER, kind TEXT, description TEXT, as_system INTEGER, execution TEXT, source TEXT,
        target_sha256 TEXT, where_found TEXT);
    CREATE INDEX custom_actions_package ON custom_actions(package_id);
    CREATE TABLE services (
        id INTEGER PRIMARY KEY, package_id INTEGER NOT NULL REFERENCES packages(id) ON DELETE CASCADE,
        name TEXT, display_name TEXT, start TEXT, account TEXT, arguments TEXT, action TEXT, where_found TEXT);
    CREATE INDEX services_package ON services(package_id);
    CREATE TABLE registry (
        id INTEGER PRIMARY KEY, package_id INTEGER NOT NULL REFERENCES packages(id) ON DELETE CASCADE,
        root TEXT, key TEXT, name TEXT, value TEXT, why TEXT, where_found TEXT);
    CREATE INDEX registry_package ON registry(package_id);
    CREATE TABLE findings (
        id INTEGER PRIMARY KEY, package_id INTEGER NOT NULL REFERENCES packages(id) ON DELETE CASCADE,
        level TEXT, where_found TEXT, message TEXT);
    CREATE INDEX findings_package ON findings(package_id);
    CREATE TABLE verdicts (
        id INTEGER PRIMARY KEY, package_id INTEGER REFERENCES packages(id) ON DELETE SET NULL,
        hotfix TEXT NOT NULL, hotfix_sha256 TEXT, table_path TEXT, table_sha256 TEXT, sections TEXT, verdict TEXT,
        reasons TEXT, summary TEXT, report TEXT, verified_at TEXT);
    CREATE INDEX verdicts_package ON verdicts(package_id);
    CREATE VIEW v_files AS
        SELECT p.path AS package, p.removed AS removed, f.* FROM files f JOIN packages p ON p.id = f.package_id;
    CREATE VIEW v_unsigned AS
        SELECT path, kind, signature_status, signer FROM packages
        WHERE removed = 0 AND error IS NULL AND (signature_status IS NULL OR signature_status IN ('unsigned'));
    CREATE VIEW v_altered AS
        SELECT path AS package, NULL AS file, signature_status FROM packages
            WHERE removed = 0 AND signature_status IN ('signed_altered', 'catalog_altered')
        UNION ALL
        SELECT p.path, f.install_path, f.signature_status FROM files f JOIN packages p ON p.id = f.package_id
            WHERE p.removed = 0 AND f.signature_status IN ('signed_altered', 'catalog_altered');
    CREATE VIEW v_system_actions AS
        SELECT p.path AS package, c.action, c.kind, c.description, c.execution, c.source, c.where_found
        FROM custom_actions c JOIN packages p ON p.id = c.package_id WHERE c.as_system = 1 AND p.removed = 0;
    CREATE VIEW v_services AS
        SELECT p.path AS package, s.* FROM services s JOIN packages p ON p.id = s.package_id WHERE p.removed = 0;
    CREATE VIEW v_verdicts AS SELECT hotfix, table_path, sections, verdict, reasons, verified_at FROM verdicts;
    """,
]


def open_catalog(path: str | os.PathLike[str], *, readonly: bool = False) -> sqlite3.Connection:
    """A connection to the catalog at *path*, created and migrated to :data:`SCHEMA_VERSION` unless *readonly*.

    A file that is not SQLite, or a SQLite database that is not a catalog (tables of its own and no
    schema version), is refused with a :class:`UsageError`: it is never written to.
    """
    path = os.fspath(path)
    if readonly:
        if not os.path.isfile(path):
            raise UsageError("no catalog here (run msitools scan --db first)", path)
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            version = _version(conn, path)
        except UsageError:
            conn.close()
            raise
        if version != SCHEMA_VERSION:
            conn.close()
            raise UsageError(f"catalog schema version {version}, this msitools reads {SCHEMA_VERSION} "
                             "(run msitools scan --db on it to migrate)", path)
        return conn
    try:
        conn = sqlite3.connect(path)
    except sqlite3.Error as exc:
        raise UsageError(f"cannot open the catalog: {exc}", path) from None
    try:
        version = _version(conn, path)
        if version > SCHEMA_VERSION:
            raise UsageError(f"catalog schema version {version} is newer than this msitools ({SCHEMA_VERSION})",
                             path)
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA journal_mode = WAL")
        # In WAL mode a commit is atomic and survives a crash of the process; NORMAL leaves the fsync to
        # checkpoints, so one transaction per package does not cost one disk flush per package.
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
    except UsageError:
        conn.close()
        raise
    except sqlite3.Error as exc:
        conn.close()
        raise UsageError(f"cannot open the catalog: {exc}", path) from None
    for step in range(version, SCHEMA_VERSION):
        # one transaction per step, its new version included (SQLite's schema changes are transactional):
        # a migration that stops half-way leaves the catalog as it was
        try:
            conn.executescript(f"BEGIN; {MIGRATIONS[step]}; INSERT OR REPLACE INTO meta (key, value) "
                               f"VALUES ('schema_version', '{step + 1}'); COMMIT;")
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.rollback()
            conn.close()
            raise UsageError(f"cannot migrate the catalog to schema version {step + 1}: {exc}", path) from None
    return conn


def _version(conn: sqlite3.Connection, path: str) -> int:
    """The catalog's schema version: 0 for an empty database (a new catalog); UsageError for anything else."""
    try:
        names = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() \
            if "meta" in names else None
    except sqlite3.DatabaseError as exc:
        raise UsageError(f"not a catalog: {exc}", path) from None
    if row is None:
        if names - {"meta"}:
            raise UsageError("a SQLite database with tables of its own, not an msitools catalog "
                             "(give a new file to --db)", path)
        return 0
    try:
        return int(row[0])
    except (TypeError, ValueError):
        raise UsageError(f"not a catalog: schema version {row[0]!r}", path) from None
