"""``scan``: record every package of a software library into the catalog, incrementally.

:func:`scan_package` reads one file (a package, a cabinet or an executable container, and
every package inside it) into a plain, picklable record: its facts and signature, every
payload file (install path, size, SHA-256, PE version, platform and signature), custom
actions, services, registry under sensitive keys, and findings; a file that cannot be
read is a record with ``error``.  :func:`scan` finds the files under the given paths,
skips those whose size, mtime, first and last MiB and then full SHA-256 are unchanged,
runs :func:`scan_package` on the others (in this process, in *jobs* processes, or on any
executor with ``submit``, such as a Dask client) and writes the records into the catalog
from this process, one transaction per package; files gone since the last scan are
marked ``removed``.

A big installer database with several cabinets (:data:`SPLIT_BYTES`) is scanned as several
tasks (:func:`plan`): one per cabinet (its payload files, and the packages inside them) and
one for the rest (facts, signature, actions, services, registry, files in no split cabinet);
:func:`merge_parts` joins their records into the one record the package would have had from
a single task, before it is written.
"""
from __future__ import annotations

import collections
import datetime as _dt
import hashlib
import itertools
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from msitools.base.fsutil import sha256_file
from msitools.errors import MsiToolsError
from msitools.library.record import (
    CatalogJudge,
    container_facts,
    delivers_catalogs,
    innermost,
    package_sections,
    pe_facts,
)
from msitools.limits import DEFAULT_LIMITS, Limits
from msitools.pe.trust import signer_subject

EDGE = 1 << 20  # bytes at each end of a file that make its quick fingerprint
COMMIT_SECONDS = 0.5  # how much scanning a stopped scan may lose (it is redone by the next one)
SUFFIXES = (".msi", ".msp", ".msm", ".mst", ".cab", ".msu", ".exe")
SPLIT_BYTES = 64 << 20  # an installer database this big with several cabinets: one task per cabinet

# a part of a package scanned on its own: ("disk", (disk_id,)) the files of one Media row's cabinet,
# ("rest", split disk ids) everything else; None: the whole package
Part = tuple[str, tuple[int, ...]]
Task = tuple[str, "Part | None"]


@dataclass
class ScanSummary:
    """What a scan did: packages found, scanned, skipped (unchanged), failed (recorded with an error), removed."""

    found: int = 0
    scanned: int = 0
    skipped: int = 0
    failed: int = 0
    removed: int = 0
    errors: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"found": self.found, "scanned": self.scanned, "skipped": self.skipped, "failed": self.failed,
                "removed": self.removed, "errors": self.errors}


def _identity(path: str, *, expect: str | None = None) -> tuple[int, float, str, str | None]:
    """``(size, mtime, edge fingerprint, full SHA-256)`` with one read of a file up to 2 MiB.

    With *expect*, the full hash is computed only when the edge fingerprint equals it (``None`` otherwise).
    """
    with open(path, "rb") as fh:
        st = os.fstat(fh.fileno())
        fingerprint_, whole = _hashes(fh, st.st_size, path, expect=expect)
    return st.st_size, st.st_mtime, fingerprint_, whole


def _hashes(fh: BinaryIO, size: int, path: str, *, expect: str | None) -> tuple[str, str | None]:
    """The edge fingerprint and (when it equals *expect*, if given) the full SHA-256 of an open file."""
    if size <= EDGE:  # the whole file is its first MiB: one read, one hash
        fingerprint_ = hashlib.sha256(fh.read()).hexdigest()
        return fingerprint_, fingerprint_
    head = fh.read(EDGE)
    edges = hashlib.sha256(head)
    if size <= 2 * EDGE:
        rest = fh.read()  # the bytes after the first MiB: the last "MiB" of the fingerprint
        edges.update(rest)
        fingerprint_ = edges.hexdigest()
        whole = hashlib.sha256(head + rest).hexdigest() if expect in (None, fingerprint_) else None
        return fingerprint_, whole
    fh.seek(size - EDGE)
    edges.update(fh.read(EDGE))
    fingerprint_ = edges.hexdigest()
    return fingerprint_, sha256_file(path) if expect in (None, fingerprint_) else None


def find_files(paths: Iterable[str]) -> list[str]:
    """The package files under *paths* (files given directly are taken whatever their name), sorted.

    Folders are walked as ``os.walk`` does (symbolic links to folders are not followed).
    """
    out: set[str] = set()
    for root in paths:
        if os.path.isfile(root):
            out.add(os.path.abspath(root))
            continue
        folders = [os.path.abspath(root)]
        while folders:
            try:
                entries = list(os.scandir(folders.pop()))
            except OSError:
                continue  # an unreadable folder is skipped, as os.walk does
            for entry in entries:
                try:
                    is_folder = entry.is_dir() and not entry.is_symlink()
                except OSError:
                    is_folder = False
                if is_folder:
                    folders.append(entry.path)
                elif entry.name.lower().endswith(SUFFIXES):
                    out.add(entry.path)
    return sorted(out)


# -- one package -----------------------------------------------------------------------------------
def plan(path: str, limits: Limits = DEFAULT_LIMITS, split_bytes: int = SPLIT_BYTES) -> list[Part | None]:
    """The tasks that scan *path*: ``[None]`` (one task), or for an installer database of at least
    *split_bytes* whose files lie in several cabinets, the rest and then one part per cabinet."""
    from msitools.base.fsutil import read_magic
    from msitools.container.cfb import CFB_MAGIC
    from msitools.db.package import open_package
    from msitools.payload.files import list_package_files

    try:
        if os.path.getsize(path) < split_bytes or read_magic(path) != CFB_MAGIC:
            return [None]
        with open_package(path, limits) as pkg:
            if pkg.kind != "msi" or delivers_catalogs(pkg):  # a catalog vouches for files in any cabinet
                return [None]
            disks = sorted({f.media.disk_id for f in list_package_files(pkg).files
                            if f.media is not None and f.media.cabinet})
    except (MsiToolsError, OSError):
        return [None]  # the one task records why it cannot be read
    if len(disks) < 2:
        return [None]
    parts: list[Part | None] = [("rest", tuple(disks))]
    parts.extend(("disk", (disk,)) for disk in disks)
    return parts


def _selector(part: Part | None) -> Callable[[Any], bool] | None:
    if part is None:
        return None
    which, disks = part

    def in_disks(f: Any) -> bool:
        return f.media is not None and bool(f.media.cabinet) and f.media.disk_id in disks

    return in_disks if which == "disk" else (lambda f: not in_disks(f))


def merge_parts(records: list[dict[str, Any]]) -> dict[str, Any]:
    """The records of a package's parts (in any order) as the one record of the whole package."""
    ordered = sorted(records, key=lambda r: (r["part"] is not None and r["part"][0] == "disk", r["part"] or ()))
    merged = dict(ordered[0], part=None)
    for key in ("packages", "files", "custom_actions", "services", "registry", "findings"):
        merged[key] = [row for r in ordered for row in r[key]]
    merged["error"] = next((r["error"] for r in ordered if r["error"] is not None), None)
    return merged


def scan_task(task: Task, limits: Limits = DEFAULT_LIMITS) -> dict[str, Any]:
    """:func:`scan_package` of one task ``(path, part)``."""
    return scan_package(task[0], limits, task[1])


def scan_package(path: str, limits: Limits = DEFAULT_LIMITS, part: Part | None = None) -> dict[str, Any]:
    """The record of one file, or of one *part* of it (see :func:`plan`); never raises for a bad package."""
    from msitools.inventory import digest, package_facts, walk
    from msitools.pe.authenticode_msi import safe_signature_report

    cabinet_part = part is not None and part[0] == "disk"
    # a cabinet's part leaves the file's identity, facts and signature to the rest
    size, mtime, edges, whole = (None, None, None, None) if cabinet_part else _identity(path)
    record: dict[str, Any] = {"path": path, "part": part, "size": size, "mtime": mtime, "fingerprint": edges,
                              "sha256": whole, "kind": None, "error": None, "facts": {},
                              "signature": {}, "packages": [], "files": [], "custom_actions": [], "services": [],
                              "registry": [], "findings": []}
    catalogs = CatalogJudge(limits)

    def on_package(pkg: Any, chain: list[str]) -> None:
        if cabinet_part and len(chain) == 1:
            return
        where = " > ".join(chain)
        report = safe_signature_report(pkg)
        entry = {"path": where, "facts": package_facts(pkg), "kind": pkg.kind,
                 "signature_status": report.get("status"), "signer": signer_subject(report)}
        if len(chain) == 1:
            record["kind"] = pkg.kind
            record["facts"] = entry["facts"]
            record["signature"] = {"status": entry["signature_status"], "signer": entry["signer"]}
        else:
            record["packages"].append(entry)
        try:
            package_sections(pkg, where, record)
            catalogs.package(pkg, where)
        except MsiToolsError as exc:
            record["findings"].append({"level": "error", "where_found": where, "message": exc.message})

    try:
        if not cabinet_part:
            container_facts(path, record, limits)
        for found in walk(path, recursive=True, limits=limits, on_package=on_package, only=_selector(part)):
            item = found.item
            file_size, sha256, error = digest(found, "sha256")
            row: dict[str, Any] = {"install_path": found.path, "name": found.name, "size": file_size,
                                   "version": item.table_version, "language": None, "platform": None,
                                   "sha256": sha256, "signature_status": None, "signer": None,
                                   "where_found": " > ".join(found.where), "error": error}
            if error is None:
                spool = item.spool()
                if spool.head(2) == b"MZ" and spool.size <= limits.pe_read_size:
                    facts = pe_facts(spool.read(limits.pe_read_size), found.name, limits)
                    row["version"] = facts.get("version") or row["version"]
                    row.update({k: v for k, v in facts.items() if k != "version"})
                catalogs.add(len(record["files"]), found, row["where_found"], spool)
            else:
                record["findings"].append({"level": "error", "where_found": row["where_found"] + " > " + found.name,
                                           "message": error})
            record["files"].append(row)
            if not found.nested:
                item.close()
        catalogs.finish(record)
    except MsiToolsError as exc:
        record["error"] = exc.message
    except OSError as exc:
        record["error"] = f"cannot read: {exc.strerror or exc}"
    if record["kind"] is None and record["error"] is None and not cabinet_part:
        record["kind"] = "unknown"
    return record


# -- the catalog -------------------------------------------------------------------------------------
def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def write_record(conn: sqlite3.Connection, record: dict[str, Any]) -> None:
    """Replace everything the catalog holds for *record*'s file with the record, in one transaction."""
    with conn:
        _write(conn, record)


def _write(conn: sqlite3.Connection, record: dict[str, Any]) -> None:
    """Replace *record*'s rows inside the caller's transaction (a record is never half written)."""
    facts = record["facts"]
    # the packages found inside it go with it (parent_id cascades), and their rows with them
    conn.execute("DELETE FROM packages WHERE path = ? AND parent_id IS NULL", (record["path"],))
    top = _insert_package(conn, None, record["path"], record["kind"], facts, record["signature"], record)
    # verdicts on these very bytes (an unchanged file scanned again, say after a touch) stay linked to it
    conn.execute("UPDATE verdicts SET package_id = ? WHERE package_id IS NULL AND hotfix = ? AND hotfix_sha256 = ?",
                 (top, record["path"], record["sha256"]))
    children = {}
    for nested in record["packages"]:
        children[nested["path"]] = _insert_package(
            conn, top, f"{record['path']} > {nested['path'].split(' > ', 1)[1]}", nested["kind"], nested["facts"],
            {"status": nested["signature_status"], "signer": nested["signer"]}, None)

    def owner(where: str) -> int:
        chain = innermost(where, children)
        return top if chain is None else children[chain]

    conn.executemany(
        "INSERT INTO files (package_id, install_path, name, size, version, language, platform, sha256, "
        "signature_status, signer, where_found, error) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
        [(owner(f["where_found"]), f["install_path"], f["name"], f["size"], f["version"], f["language"],
          f["platform"], f["sha256"], f["signature_status"], f["signer"], f["where_found"], f["error"])
         for f in record["files"]])
    conn.executemany(
        "INSERT INTO custom_actions (package_id, action, type, kind, description, as_system, execution, source, "
        "target_sha256, where_found) VALUES (?,?,?,?,?,?,?,?,?,?)",
        [(owner(c["where_found"]), c["action"], c["type"], c["kind"], c["description"], c["as_system"],
          c["execution"], c["source"], c["target_sha256"], c["where_found"]) for c in record["custom_actions"]])
    conn.executemany(
        "INSERT INTO services (package_id, name, display_name, start, account, arguments, action, where_found) "
        "VALUES (?,?,?,?,?,?,?,?)",
        [(owner(s["where_found"]), s["name"], s["display_name"], s["start"], s["account"], s["arguments"],
          s["action"], s["where_found"]) for s in record["services"]])
    conn.executemany(
        "INSERT INTO registry (package_id, root, key, name, value, why, where_found) VALUES (?,?,?,?,?,?,?)",
        [(owner(r["where_found"]), r["root"], r["key"], r["name"], r["value"], r["why"], r["where_found"])
         for r in record["registry"]])
    conn.executemany("INSERT INTO findings (package_id, level, where_found, message) VALUES (?,?,?,?)",
                     [(top, f["level"], f["where_found"], f["message"]) for f in record["findings"]])


def _insert_package(conn: sqlite3.Connection, parent: int | None, path: str, kind: str | None,
                    facts: dict[str, Any], signature: dict[str, Any], record: dict[str, Any] | None) -> int:
    cur = conn.execute(
        "INSERT INTO packages (parent_id, path, kind, size, sha256, mtime, fingerprint, product_name, "
        "product_version, product_code, upgrade_code, manufacturer, package_code, title, subject, author, "
        "signature_status, signer, error, scanned_at, removed) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,0)",
        (parent, path, kind, record and record["size"], record and record["sha256"], record and record["mtime"],
         record and record["fingerprint"], facts.get("product_name"), facts.get("product_version"),
         facts.get("product_code"), facts.get("upgrade_code"), facts.get("manufacturer"),
         facts.get("package_code") or facts.get("patch_code"), facts.get("title"), facts.get("subject"),
         facts.get("author"), signature.get("status"), signature.get("signer"), record and record["error"], _now()))
    return int(cur.lastrowid or 0)


def _known(conn: sqlite3.Connection) -> dict[str, tuple[int, float, str, str]]:
    """What the catalog holds of every file on disk it lists: ``path -> (size, mtime, fingerprint, sha256)``."""
    return {row[0]: row[1:] for row in conn.execute(
        "SELECT path, size, mtime, fingerprint, sha256 FROM packages WHERE parent_id IS NULL AND removed = 0")}


def _unchanged(path: str, known: tuple[int, float, str, str] | None) -> bool:
    """Same size and mtime, same first and last MiB, then the same full SHA-256 as when it was recorded.

    Anything that cannot be read, or reads short, counts as changed: the file is scanned again.
    """
    if known is None:
        return False
    size, mtime, edges, sha256 = known
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
    except OSError:
        return False
    try:
        st = os.fstat(fd)
        if st.st_size != size or abs(st.st_mtime - (mtime or 0)) > 1e-6:
            return False
        if size <= EDGE:  # most packages of a library: one read (no buffered file object), one hash
            data = os.read(fd, size + 1)
            return len(data) == size and hashlib.sha256(data).hexdigest() == edges == sha256
        with open(fd, "rb", closefd=False) as fh:
            now_edges, now_sha256 = _hashes(fh, size, path, expect=edges)
    except OSError:
        return False
    finally:
        os.close(fd)
    return now_edges == edges and now_sha256 == sha256


def _unchanged_files(files: list[str], known: dict[str, tuple[int, float, str, str]], jobs: int) -> list[bool]:
    """:func:`_unchanged` of each file; with *jobs* > 1 and many files, shared out among forked processes."""
    from msitools.base.workers import run_shares

    def share(part: list[str]) -> Callable[[], list[bool]]:
        return lambda: [_unchanged(path, known.get(path)) for path in part]

    ways = min(jobs, max(1, len(files) // 512))  # a fork costs about what checking 500 small files does
    size = -(-len(files) // ways) if files else 1
    return [same for part in run_shares([share(files[i:i + size]) for i in range(0, len(files), size)])
            for same in part]


Executor = Callable[[list[Task]], Iterator[dict[str, Any]]]


CHUNK_FILES = 16  # packages per task at most: one task per small package costs more in messages than in work
CHUNK_BYTES = 16 << 20  # ... and at most this many bytes of them, so big packages still spread over the workers


def _chunks(tasks: list[Task], jobs: int) -> list[list[Task]]:
    """*tasks* in groups of a few small packages each, never fewer than 4 groups per process; a part alone."""
    per_task = max(1, min(CHUNK_FILES, len(tasks) // (jobs * 4)))
    chunks: list[list[Task]] = []
    current: list[Task] = []
    weight = 0
    for task in tasks:
        try:
            size = os.path.getsize(task[0]) if task[1] is None else CHUNK_BYTES
        except OSError:
            size = 0
        if current and (len(current) >= per_task or weight + size > CHUNK_BYTES):
            chunks.append(current)
            current, weight = [], 0
        current.append(task)
        weight += size
    if current:
        chunks.append(current)
    return chunks


def scan_tasks(tasks: list[Task], limits: Limits = DEFAULT_LIMITS) -> list[dict[str, Any]]:
    """:func:`scan_task` of each task: the unit of work a process runs."""
    return [scan_task(task, limits) for task in tasks]


def local_executor(jobs: int, limits: Limits = DEFAULT_LIMITS) -> Executor:
    """Run the tasks in this process (*jobs* 1) or in *jobs* forked processes, records as they come."""
    def run(tasks: list[Task]) -> Iterator[dict[str, Any]]:
        if jobs <= 1 or len(tasks) <= 1:
            for task in tasks:
                yield scan_task(task, limits)
            return
        import multiprocessing
        from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

        context = multiprocessing.get_context("fork" if hasattr(os, "fork") else "spawn")
        chunks = iter(_chunks(tasks, jobs))
        with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
            # a few tasks in flight per process: the records held here do not grow with the library
            pending = {pool.submit(scan_tasks, chunk, limits) for chunk in itertools.islice(chunks, jobs * 4)}
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    records = future.result()
                    nxt = next(chunks, None)
                    if nxt is not None:
                        pending.add(pool.submit(scan_tasks, nxt, limits))
                    yield from records
    return run


def scan(paths: Iterable[str], db: str | os.PathLike[str], *, jobs: int = 1, executor: Executor | None = None,
         progress: Callable[[str, int], None] | None = None, limits: Limits = DEFAULT_LIMITS,
         split_bytes: int = SPLIT_BYTES) -> ScanSummary:
    """Scan the files under *paths* into the catalog *db* (see the module documentation)."""
    from msitools.library.schema import open_catalog

    roots = list(paths)
    files = find_files(roots)
    summary = ScanSummary(found=len(files))
    conn = open_catalog(db)
    try:
        todo = []
        known = _known(conn)
        for path, same in zip(files, _unchanged_files(files, known, jobs)):
            if same:
                summary.skipped += 1
                if progress:
                    progress(path, len(files))
            else:
                todo.append(path)
        tasks: list[Task] = [(path, part) for path in todo for part in plan(path, limits, split_bytes)]
        parts = collections.Counter(path for path, _part in tasks)
        held: dict[str, list[dict[str, Any]]] = {}
        run = executor or local_executor(jobs, limits)
        last_commit = time.monotonic()
        for record in run(tasks):
            if parts[record["path"]] > 1:  # a part: the package is written once all its parts are in
                waiting = held.setdefault(record["path"], [])
                waiting.append(record)
                if len(waiting) < parts[record["path"]]:
                    continue
                record = merge_parts(held.pop(record["path"]))
            # whole records go into a transaction, committed at least every COMMIT_SECONDS: a scan that is
            # stopped keeps what was committed, and the next one redoes only the rest
            _write(conn, record)
            if time.monotonic() - last_commit >= COMMIT_SECONDS:
                conn.commit()
                last_commit = time.monotonic()
            summary.scanned += 1
            if record["error"] is not None:
                summary.failed += 1
                summary.errors.append(f"{record['path']}: {record['error']}")
            if progress:
                progress(record["path"], len(files))
        conn.commit()
        summary.removed = _mark_removed(conn, roots, set(files))
    finally:
        conn.close()
    return summary


def _mark_removed(conn: sqlite3.Connection, roots: list[str], present: set[str]) -> int:
    """Mark as removed the packages under the scanned roots that are no longer there."""
    prefixes = [os.path.abspath(r) for r in roots]
    gone = []
    for pid, path in conn.execute("SELECT id, path FROM packages WHERE parent_id IS NULL AND removed = 0"):
        if path not in present and any(path == p or path.startswith(p.rstrip(os.sep) + os.sep) for p in prefixes):
            gone.append(pid)
    with conn:
        conn.executemany("UPDATE packages SET removed = 1 WHERE id = ? OR parent_id = ?", [(i, i) for i in gone])
    return len(gone)
