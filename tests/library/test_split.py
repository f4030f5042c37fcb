"""A big installer database with several cabinets is scanned one cabinet per task, and its record
is the one a single task makes: locally, with two processes and on a Dask LocalCluster."""
from __future__ import annotations

import random
import sqlite3

import pytest

from msitools.library.scan import merge_parts, plan, scan, scan_package
from msitools.testing.writer.package import STANDARD_DIRECTORIES, PayloadFile, build_package

from conftest import FIXTURES
from library.test_catalog import _dump

DIRS = STANDARD_DIRECTORIES + [("APP", "ProgramFilesFolder", "app")]
NO_SPLIT = 1 << 62


def _spanned(n: int, rnd: random.Random) -> bytes:
    """An MSI whose one cabinet folder spans several embedded cabinets, a patch among its files."""
    files = [PayloadFile("APP", f"data{n}_{i}.bin", rnd.randbytes(3000 + 500 * i), key=f"data{i}")
             for i in range(8)]
    files.insert(3, PayloadFile("APP", "fix.msp", (FIXTURES / "patches" / "whole.msp").read_bytes(), key="fix"))
    built = build_package(files, directories=DIRS, product_name=f"Split {n}", max_cabinet_data=6000,
                          product_code=f"{{00000000-0000-4000-8000-{n:012d}}}")
    return built.database.build("msi")


@pytest.fixture(scope="module")
def share(tmp_path_factory):
    root = tmp_path_factory.mktemp("split") / "share"
    root.mkdir()
    rnd = random.Random(7)
    for n in range(3):
        (root / f"split{n}.msi").write_bytes(_spanned(n, rnd))
    (root / "broken.msi").write_bytes(_spanned(9, rnd)[:20000])  # cut short: cabinets that cannot be read
    return root


def test_plan_splits_only_big_databases_with_several_cabinets(share):
    whole = str(share / "split0.msi")
    parts = plan(whole, split_bytes=0)
    assert parts[0] is not None and parts[0][0] == "rest" and len(parts) >= 3
    assert [p for p in parts[1:] if p is not None and p[0] == "disk"] == parts[1:]
    assert plan(whole, split_bytes=NO_SPLIT) == [None]
    assert plan(str(FIXTURES / "patches" / "whole.msp"), split_bytes=0) == [None]  # a patch is one task


def test_the_parts_merge_into_the_record_of_one_task(share):
    path = str(share / "split1.msi")
    whole = scan_package(path)
    parts = [scan_package(path, part=part) for part in plan(path, split_bytes=0)]
    assert all(p["files"] for p in parts[1:])  # every cabinet holds files of its own
    merged = merge_parts(list(reversed(parts)))
    for key in ("size", "sha256", "fingerprint", "kind", "facts", "signature", "error"):
        assert merged[key] == whole[key], key
    for key in ("files", "packages", "custom_actions", "services", "registry", "findings"):
        assert sorted(map(repr, merged[key])) == sorted(map(repr, whole[key])), key
    assert any(p["path"].endswith("fix.msp") for p in merged["packages"])


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_split_scan_records_the_rows_of_an_unsplit_one(share, tmp_path, jobs):
    single, split = tmp_path / "single.sqlite", tmp_path / "split.sqlite"
    scan([str(share)], single, split_bytes=NO_SPLIT)
    summary = scan([str(share)], split, jobs=jobs, split_bytes=0)
    assert summary.scanned == 4
    assert _dump(split) == _dump(single)
    with sqlite3.connect(split) as conn:
        assert conn.execute("SELECT COUNT(*) FROM packages WHERE parent_id IS NULL").fetchone()[0] == 4
        broken = conn.execute("SELECT COUNT(*) FROM findings f JOIN packages p ON p.id = f.package_id "
                              "WHERE p.path LIKE '%broken.msi' AND f.message LIKE 'truncated cabinet%'").fetchone()[0]
    assert broken >= 2  # files of both cabinets, found by different parts


def test_a_split_scan_on_dask_records_the_same_rows(share, tmp_path):
    pytest.importorskip("distributed", reason="Dask is an optional extra (pip install 'msitools[dask]')")
    from msitools.library.distributed import dask_executor

    single, on_dask = tmp_path / "single.sqlite", tmp_path / "dask.sqlite"
    scan([str(share)], single, split_bytes=NO_SPLIT)
    executor = dask_executor("local", 2)
    try:
        scan([str(share)], on_dask, executor=executor, split_bytes=0)
    finally:
        executor.close()
    assert _dump(on_dask) == _dump(single)
