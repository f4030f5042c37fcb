"""scan, query and verify --batch over a generated library; the same rows and verdicts on Dask."""
from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from msitools.library.query import ask, run_sql
from msitools.library.scan import scan
from msitools.library.schema import SCHEMA_VERSION, open_catalog
from msitools.testing.writer.library import build_library

from conftest import FIXTURES

COUNT = 300
TABLES = ("packages", "files", "custom_actions", "services", "registry", "findings")


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    root = tmp_path_factory.mktemp("library")
    return build_library(root / "share", COUNT, patch=(FIXTURES / "patches" / "whole.msp").read_bytes())


@pytest.fixture(scope="module")
def catalog(library, tmp_path_factory):
    db = tmp_path_factory.mktemp("catalog") / "catalog.sqlite"
    first = scan([str(library.root)], db, jobs=2)
    return db, first


def _count(db: Path, sql: str) -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchone()[0]


def _dump(db: Path) -> dict[str, list]:
    """Every row of every table, without ids and times: what two scans must agree on."""
    conn = sqlite3.connect(db)
    out = {}
    try:
        paths = dict(conn.execute("SELECT id, path FROM packages"))
        for table in TABLES:
            cur = conn.execute(f"SELECT * FROM {table}")
            names = [d[0] for d in cur.description]
            rows = []
            for row in cur:
                record = dict(zip(names, row))
                for key in ("id", "scanned_at", "mtime"):
                    record.pop(key, None)
                for key in ("package_id", "parent_id"):
                    if key in record:
                        record[key] = paths.get(record[key])
                rows.append(json.dumps(record, sort_keys=True))
            out[table] = sorted(rows)
    finally:
        conn.close()
    return out


def test_a_scan_records_every_file_and_every_package_inside(library, catalog):
    db, first = catalog
    assert (first.found, first.scanned, first.skipped) == (COUNT, COUNT, 0)
    assert first.failed == len(library.damaged) and len(first.errors) == len(library.damaged)
    assert _count(db, "SELECT COUNT(*) FROM packages WHERE parent_id IS NULL") == COUNT
    # each self-extracting executable holds one MSI: recorded as a package inside it
    assert _count(db, "SELECT COUNT(*) FROM packages WHERE parent_id IS NOT NULL") == len(library.nested)
    errors = ask(db, "errors")
    assert sorted(r[0] for r in errors["rows"]) == sorted(str(p) for p in library.damaged)
    assert all(r[1] for r in errors["rows"])


def test_named_queries_return_what_the_writer_put_in(library, catalog):
    db, _first = catalog
    openssl = ask(db, "file", "OPENSSL.DLL")
    found = {}
    for row in openssl["rows"]:
        found[row[0].split(" > ")[0]] = row[3]
    assert found == library.openssl
    older = ask(db, "file", "openssl.dll", older_than="1.1.1.23")
    assert {r[0].split(" > ")[0] for r in older["rows"]} == {p for p, v in library.openssl.items()
                                                            if v in ("1.0.2.21", "1.1.1.11")}
    systems = ask(db, "system-actions")
    assert sorted({r[0].split(" > ")[0] for r in systems["rows"]}) == sorted(set(library.system_actions))
    assert {r[1] for r in systems["rows"]} == {"RunAsSystem"}
    services = ask(db, "services")
    assert sorted({r[0].split(" > ")[0] for r in services["rows"]}) == sorted(set(library.services))
    unsigned = ask(db, "unsigned")
    assert len(unsigned["rows"]) == COUNT - len(library.damaged) + len(library.nested)
    assert ask(db, "product", "Library Product 12")["rows"][0][1] == "Library Product 12"
    assert ask(db, "altered")["rows"] == []


def test_sql_is_read_only_and_sees_the_views(catalog):
    db, _first = catalog
    assert run_sql(db, "SELECT COUNT(*) FROM v_files")["rows"][0][0] > COUNT
    with pytest.raises(Exception, match="readonly|read-only"):
        run_sql(db, "DELETE FROM packages")
    assert int(_count(db, "SELECT value FROM meta WHERE key = 'schema_version'")) == SCHEMA_VERSION


def test_a_second_scan_skips_unchanged_files_and_notices_changes(library, tmp_path):
    import shutil

    root = tmp_path / "copy"
    shutil.copytree(library.root, root)
    db = tmp_path / "catalog.sqlite"
    scan([str(root)], db, jobs=2)
    before = _dump(db)
    again = scan([str(root)], db, jobs=2)
    assert (again.scanned, again.skipped, again.removed) == (0, COUNT, 0)
    assert _dump(db) == before  # a re-scan changes no row
    changed = next(root.rglob("product00001.msi"))
    data = bytearray(changed.read_bytes())
    data[-1] ^= 0xFF
    changed.write_bytes(bytes(data))
    os.utime(changed, (1_700_000_000, 1_700_000_000))
    gone = next(root.rglob("payload00007.cab"))
    gone.unlink()
    third = scan([str(root)], db, jobs=1)
    assert (third.scanned, third.skipped, third.removed) == (1, COUNT - 2, 1)
    assert _count(db, f"SELECT removed FROM packages WHERE path = '{gone}'") == 1
    assert _count(db, "SELECT COUNT(*) FROM packages WHERE parent_id IS NULL") == COUNT


def test_one_job_and_two_jobs_record_the_same_rows(library, catalog, tmp_path):
    db, _first = catalog
    single = tmp_path / "single.sqlite"
    scan([str(library.root)], single, jobs=1)
    assert _dump(single) == _dump(db)


def test_the_catalog_is_migrated_and_a_newer_one_refused(tmp_path):
    db = tmp_path / "old.sqlite"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
    conn.commit()
    conn.close()
    open_catalog(db).close()
    assert int(_count(db, "SELECT value FROM meta WHERE key = 'schema_version'")) == SCHEMA_VERSION
    conn = sqlite3.connect(db)
    conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    conn.commit()
    conn.close()
    with pytest.raises(Exception, match="newer"):
        open_catalog(db)


def test_a_migration_that_fails_half_way_leaves_the_catalog_as_it_was(tmp_path, monkeypatch):
    from msitools.library import schema

    db = tmp_path / "old.sqlite"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
    conn.commit()
    conn.close()
    broken = schema.MIGRATIONS[0] + "; CREATE TABLE packages (oops INTEGER)"  # fails after the first tables
    monkeypatch.setattr(schema, "MIGRATIONS", [broken])
    with pytest.raises(Exception, match="cannot migrate the catalog to schema version 1"):
        open_catalog(db)
    conn = sqlite3.connect(db)
    names = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    conn.close()
    assert names == {"meta", "sqlite_autoindex_meta_1"}
    monkeypatch.undo()
    open_catalog(db).close()  # and the real migration then applies cleanly
    assert int(_count(db, "SELECT value FROM meta WHERE key = 'schema_version'")) == SCHEMA_VERSION


def test_a_file_that_is_not_a_catalog_is_refused_and_left_alone(tmp_path):
    text = tmp_path / "notes.sqlite"
    text.write_text("hello")
    other = tmp_path / "other.sqlite"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE accounts (name TEXT)")
    conn.commit()
    conn.close()
    before = {p: p.read_bytes() for p in (text, other)}
    for path, why in ((text, "not a catalog: file is not a database"), (other, "not an msitools catalog")):
        for args in (["scan", str(FIXTURES / "kb2586709" / "tampered"), "--db", str(path)],
                     ["query", "--db", str(path), "--unsigned"],
                     ["verify", "--batch", str(_manifest(tmp_path)), "--out", str(tmp_path / "out"),
                      "--db", str(path)]):
            proc = subprocess.run([sys.executable, "-m", "msitools", *args], capture_output=True, text=True)
            assert proc.returncode == 2 and proc.stderr.count("\n") == 1, (args, proc.stderr)
            assert str(path) in proc.stderr and why in proc.stderr, proc.stderr
    assert {p: p.read_bytes() for p in (text, other)} == before
    assert not (tmp_path / "out").exists()  # refused before any hotfix was verified


def test_the_command_line(library, catalog, tmp_path):
    db, _first = catalog
    proc = subprocess.run([sys.executable, "-m", "msitools", "query", "--db", str(db), "--file", "openssl.dll",
                           "--format", "csv"], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.startswith("package,install_path,name,version")
    bad = subprocess.run([sys.executable, "-m", "msitools", "query", "--db", str(db), "--unsigned", "--altered"],
                         capture_output=True, text=True)
    assert bad.returncode == 2
    missing = subprocess.run([sys.executable, "-m", "msitools", "query", "--db", str(tmp_path / "none.sqlite"),
                              "--unsigned"], capture_output=True, text=True)
    assert missing.returncode == 2 and "no catalog" in missing.stderr


# -- batch verification --------------------------------------------------------------------------------------
def _manifest(tmp_path: Path) -> Path:
    kb, sql = FIXTURES / "kb2586709", FIXTURES / "sqlcu"
    rows = [{"hotfix": str(kb / "SCCM2007-SP2-2586709-X86-ENU.msi"), "table": str(kb / "kb2586709.txt")},
            {"hotfix": str(kb / "tampered" / "size-off.msi"), "table": str(kb / "kb2586709.csv")},
            {"hotfix": str(sql / "SQLServer2017-KB4515579-x64.exe"),
             "table": str(FIXTURES / "kb" / "real" / "sql2017-cu17-kb4515579.md"),
             "sections": ["sql_dreplay_client", "sql_dreplay_controller"]},
            {"hotfix": str(tmp_path / "missing.msi"), "table": str(kb / "kb2586709.txt")}]
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(rows))
    return path


def test_batch_verification_writes_reports_a_summary_and_the_verdicts(tmp_path, catalog):
    db, _first = catalog
    out = tmp_path / "reports"
    proc = subprocess.run([sys.executable, "-m", "msitools", "verify", "--batch", str(_manifest(tmp_path)), "--out",
                           str(out), "--jobs", "2", "--db", str(db)], capture_output=True, text=True)
    assert proc.returncode == 1, proc.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert [h["verdict"] for h in summary["hotfixes"]] == ["pass", "fail", "pass", "fail"]
    assert "could not be verified" in summary["hotfixes"][3]["reasons"][0]
    from xml.etree import ElementTree as ET

    suites = ET.fromstring((out / "summary.xml").read_text())
    assert [s.get("name") for s in suites] == ["SCCM2007-SP2-2586709-X86-ENU.msi", "size-off.msi",
                                               "SQLServer2017-KB4515579-x64.exe", "missing.msi"]
    assert (out / "index.html").read_text().count("<tr class=") == 4
    assert (out / "size-off.html").exists() and json.loads((out / "size-off.json").read_text())["verdict"] == "fail"
    verdicts = run_sql(db, "SELECT verdict FROM v_verdicts ORDER BY rowid DESC LIMIT 4")["rows"]
    assert sorted(v[0] for v in verdicts) == ["fail", "fail", "pass", "pass"]


def test_a_verdict_stays_linked_to_the_bytes_it_was_made_on(tmp_path):
    import shutil

    share = tmp_path / "share"
    share.mkdir()
    hotfix = share / "hotfix.msi"
    shutil.copyfile(FIXTURES / "kb2586709" / "SCCM2007-SP2-2586709-X86-ENU.msi", hotfix)
    manifest = tmp_path / "m.json"
    manifest.write_text(json.dumps([{"hotfix": str(hotfix), "table": str(FIXTURES / "kb2586709" / "kb2586709.txt")}]))
    db = tmp_path / "c.sqlite"
    scan([str(share)], db)
    proc = subprocess.run([sys.executable, "-m", "msitools", "verify", "--batch", str(manifest), "--out",
                           str(tmp_path / "out"), "--db", str(db)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    linked = "SELECT COUNT(*) FROM verdicts v JOIN packages p ON p.id = v.package_id WHERE p.path = v.hotfix"
    assert _count(db, linked) == 1
    os.utime(hotfix, (1, 1))  # the same bytes, scanned again: still linked
    assert scan([str(share)], db).scanned == 1 and _count(db, linked) == 1
    with open(hotfix, "ab") as fh:  # other bytes: the verdict was not made on them
        fh.write(b"\0" * 512)
    assert scan([str(share)], db).scanned == 1 and _count(db, linked) == 0
    assert _count(db, "SELECT COUNT(*) FROM verdicts") == 1


# -- Dask --------------------------------------------------------------------------------------------------------
def _dask_available() -> None:
    pytest.importorskip("distributed", reason="Dask is an optional extra (pip install 'msitools[dask]')")


def test_a_scan_on_a_dask_local_cluster_records_the_same_rows(library, catalog, tmp_path):
    _dask_available()
    from msitools.library.distributed import dask_executor

    db, _first = catalog
    on_dask = tmp_path / "dask.sqlite"
    executor = dask_executor("local", 2)
    try:
        summary = scan([str(library.root)], on_dask, executor=executor)
    finally:
        executor.close()
    assert summary.scanned == COUNT
    assert _dump(on_dask) == _dump(db)


def test_losing_a_worker_mid_scan_changes_nothing(library, catalog, tmp_path):
    _dask_available()
    from msitools.library.distributed import DaskExecutor
    from msitools.library.scan import scan_task

    db, _first = catalog
    executor = DaskExecutor("local", 2)
    killed: list[str] = []

    def runner(tasks):
        for n, record in enumerate(executor.map(scan_task, tasks)):
            if n == 20 and not killed:  # a worker dies with tasks in flight; the scheduler retries them
                import signal

                pids = executor.client.run(os.getpid)
                worker = sorted(pids)[0]
                os.kill(pids[worker], signal.SIGKILL)
                killed.append(worker)
            yield record

    on_dask = tmp_path / "killed.sqlite"
    try:
        summary = scan([str(library.root)], on_dask, executor=runner)
    finally:
        executor.close()
    assert killed and summary.scanned == COUNT
    assert _dump(on_dask) == _dump(db)


def test_batch_verification_on_dask_gives_the_local_verdicts(tmp_path):
    _dask_available()
    out_local, out_dask = tmp_path / "local", tmp_path / "dask"
    manifest = _manifest(tmp_path)
    local = subprocess.run([sys.executable, "-m", "msitools", "verify", "--batch", str(manifest), "--out",
                            str(out_local)], capture_output=True, text=True)
    dask = subprocess.run([sys.executable, "-m", "msitools", "verify", "--batch", str(manifest), "--out",
                           str(out_dask), "--dask", "local", "--jobs", "2"], capture_output=True, text=True)
    assert local.returncode == dask.returncode == 1, dask.stderr

    def verdicts(folder):
        return [(h["hotfix"], h["verdict"], h["reasons"]) for h in
                json.loads((folder / "summary.json").read_text())["hotfixes"]]

    assert verdicts(out_local) == verdicts(out_dask)


def test_a_query_answer_fits_the_width_as_a_table_or_as_one_block_per_row():
    from msitools.render.library import answer_text
    from msitools.render.options import RenderOptions

    narrow = {"question": "sql", "columns": ["name", "size"], "rows": [["a.dll", 1], ["b.dll", 22]]}
    text = answer_text(narrow, RenderOptions(width=60))
    assert text.splitlines()[0].split() == ["name", "size"] and text.endswith("(2 rows)")
    wide = {"question": "unsigned", "columns": ["path", "kind", "signature_status"],
            "rows": [["/srv/share/" + "x" * 70 + ".msi", "msi", "unsigned"], ["/srv/share/b.msi", None, "unsigned"]]}
    lines = answer_text(wide, RenderOptions(width=60)).splitlines()
    assert lines[0].startswith("-[ 1 ]") and lines[4].startswith("-[ 2 ]") and lines[-1] == "(2 rows)"
    assert lines[1] == "path:             /srv/share/" + "x" * 70 + ".msi"  # a value longer than the width: whole
    assert lines[6] == "kind:" and all(len(line) <= 60 for line in lines if "xxx" not in line)
    assert answer_text(wide, RenderOptions(width=200)).splitlines()[0].split() == ["path", "kind", "signature_status"]


def test_a_dask_worker_that_cannot_see_the_share_stops_the_run_before_any_task(tmp_path):
    from msitools.errors import UsageError
    from msitools.library.distributed import DaskExecutor, _ScanRunner

    class Client:  # what Client.run answers: {worker address: result}
        def __init__(self, answers):
            self.answers, self.submitted = answers, []

        def run(self, function, *args):
            return {worker: function(*args) if ok else False for worker, ok in self.answers.items()}

        def submit(self, *args, **kwargs):  # pragma: no cover - must not be reached
            self.submitted.append(args)
            raise AssertionError("a task was submitted")

    package = tmp_path / "p.msi"
    package.write_bytes(b"x")
    executor = DaskExecutor.__new__(DaskExecutor)
    executor.client = Client({"tcp://10.0.0.1:1": True, "tcp://10.0.0.2:1": False})
    with pytest.raises(UsageError, match=r"1 of 2 Dask worker\(s\) cannot see this file \(tcp://10.0.0.2:1\)"):
        list(_ScanRunner(executor, None)([(str(package), None)]))
    executor.client = Client({"tcp://10.0.0.1:1": True})
    executor.check_visible(str(package))  # every worker sees it: no error
    with pytest.raises(UsageError, match="cannot see"):
        executor.check_visible(str(tmp_path / "gone.msi"))
