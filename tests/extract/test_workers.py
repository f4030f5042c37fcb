"""Extraction split over forked workers: same files, same report, same failures as one process."""
from __future__ import annotations

import errno
import hashlib
import os
import signal
from pathlib import Path

import pytest

import msitools
from msitools.base import fsutil, workers
from msitools.errors import MsiToolsError, UnsafePathError
from msitools.extract import FILE_WEIGHT, _job_count, _split, extract
from msitools.base.fsutil import OutputTree
from msitools.limits import Limits
from msitools.testing.writer.package import PayloadFile, build_package

from conftest import FIXTURES, corpus_file
from extract.test_cli import APP, EXPECTED, damaged_package, files_under, random_bytes, write_package

pytestmark = pytest.mark.skipif(not workers.can_fork(), reason="worker processes are used on Linux only")


def normalised(report, root: Path) -> dict:
    """The report with output paths relative to *root*, so two extractions can be compared."""
    data = report.to_dict()
    data.pop("output")
    for written in data["written"]:
        written["path"] = Path(written["path"]).relative_to(root).as_posix()
    return data


def extract_both_ways(tmp_path: Path, path: Path, jobs: int, **options):
    one = extract(path, tmp_path / "one", jobs=1, **options)
    many = extract(path, tmp_path / "many", jobs=jobs, **options)
    return one, many


@pytest.mark.parametrize("jobs", [2, 3])
def test_corpus_package_extracts_the_same_with_several_workers(tmp_path, jobs):
    path = corpus_file("vcredist.msi")  # 11 LZX cabinets (one external), a name collision
    one, many = extract_both_ways(tmp_path, path, jobs)
    assert one.ok and many.ok
    assert files_under(tmp_path / "many") == files_under(tmp_path / "one")
    assert normalised(many, tmp_path / "many") == normalised(one, tmp_path / "one")
    assert any("duplicate1" in issue for issue in many.issues)
    assert not list((tmp_path / "many").rglob("*.part"))


def many_small_files(count: int, seed: int = 7) -> "list[PayloadFile]":
    return [PayloadFile("APP" if i % 2 else "SUB", f"f{i:04d}.bin", random_bytes(300 + i % 500, seed + i))
            for i in range(count)]


@pytest.mark.parametrize("media,options", [("embedded", {}), ("external", {"max_cabinet_data": 40000}),
                                           ("uncompressed", {})],
                         ids=["one-cabinet", "cabinet-set", "source-image"])
def test_one_cabinet_cut_between_workers(tmp_path, media, options):
    payload = many_small_files(300)
    path = write_package(tmp_path, "pkg.msi", build_package(payload, directories=APP, media=media, **options))
    one, many = extract_both_ways(tmp_path, path, 2)
    assert one.ok and many.ok and len(many.written) == 300
    assert files_under(tmp_path / "many") == files_under(tmp_path / "one")
    assert sorted(files_under(tmp_path / "many").values()) == sorted(f.data for f in payload)
    assert normalised(many, tmp_path / "many") == normalised(one, tmp_path / "one")


def test_damaged_cabinet_fails_the_same_files_with_workers(tmp_path):
    path = damaged_package(tmp_path)
    one, many = extract_both_ways(tmp_path, path, 3)
    assert [f["key"] for f in many.failures] == [f["key"] for f in one.failures] and len(one.failures) == 1
    assert files_under(tmp_path / "many") == {k: v for k, v in EXPECTED.items() if not k.endswith("d.bin")}
    assert not list((tmp_path / "many").rglob("*.part"))


def test_existing_file_is_refused_by_whichever_worker_writes_it(tmp_path):
    payload = many_small_files(40)
    path = write_package(tmp_path, "pkg.msi", build_package(payload, directories=APP))
    assert extract(path, tmp_path / "out", jobs=1).ok
    victim = next((tmp_path / "out").rglob("f0039.bin"))
    for other in (tmp_path / "out").rglob("*.bin"):
        if other != victim:
            other.unlink()
    victim.write_bytes(b"mine")
    again = extract(path, tmp_path / "out", jobs=2)
    assert [f["file"].rsplit("\\", 1)[-1] for f in again.failures] == ["f0039.bin"]
    assert "already exists" in again.failures[0]["error"]
    assert victim.read_bytes() == b"mine"
    assert len(again.written) == 39


# -- how the files are shared out ---------------------------------------------------------
def test_split_keeps_cabinets_whole_when_they_balance():
    class Medium:
        pass

    class F:
        def __init__(self, medium, size):
            self.media, self.size, self.compressed = medium, size, True

    media = [Medium() for _ in range(4)]
    files = [F(media[i // 5], 10_000 * (1 + i // 5)) for i in range(20)]
    shares = _split(files, 2)
    assert sorted(len(s) for s in shares) == [10, 10]
    for share in shares:  # a cabinet's files all in one share
        assert {id(f.media) for f in share} in ({id(media[0]), id(media[3])}, {id(media[1]), id(media[2])})
    assert sorted(id(f) for s in shares for f in s) == sorted(id(f) for f in files)


def test_split_cuts_one_big_cabinet_into_runs():
    class F:
        media, compressed = object(), True

        def __init__(self, size):
            self.size = size

    files = [F(100) for _ in range(1000)]
    shares = _split(files, 2)
    assert [len(s) for s in shares] == [500, 500]
    assert shares[0] + shares[1] == files  # contiguous runs, in order
    assert len(_split(files[:1], 4)) == 1


def test_job_count_respects_the_output_limit_and_package_size():
    class F:
        def __init__(self, size):
            self.size = size

    small = [F(10) for _ in range(10)]
    assert _job_count(small, None, Limits()) == 1  # not worth a second process
    big = [F(1 << 20) for _ in range(64)]
    assert _job_count(big, 4, Limits()) == 4
    assert _job_count(big, 4, Limits(decompressed_total=100 << 20)) == 1  # 64 MiB > 100 MiB / 2
    assert _job_count(big, 4, Limits(decompressed_total=130 << 20)) == 2
    assert _job_count(small, 50, Limits()) == 10  # never more workers than files
    assert FILE_WEIGHT > 0


# -- the worker machinery ----------------------------------------------------------------
def test_results_come_back_in_share_order():
    assert workers.run_shares([lambda n=n: (n, os.getpid()) for n in range(3)])[0] == (0, os.getpid())
    results = workers.run_shares([lambda n=n: n * n for n in range(4)])
    assert results == [0, 1, 4, 9]


def test_an_exception_in_a_worker_is_raised_in_the_parent():
    def fails():
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OSError) as caught:
        workers.run_shares([lambda: 1, fails])
    assert caught.value.errno == errno.ENOSPC


def test_a_worker_that_dies_is_reported_not_ignored():
    def dies():
        os.kill(os.getpid(), signal.SIGKILL)

    with pytest.raises(MsiToolsError, match="a worker process was killed by signal 9"):
        workers.run_shares([lambda: 1, dies])


def test_forked_workers_read_one_package_without_sharing_its_file_offset():
    path = corpus_file("vcredist.msi")
    with msitools.open_package(path) as pkg:
        names = [s.name for s in pkg.streams]
        expected = {n: hashlib.sha256(pkg.read_stream(n)).hexdigest() for n in names}

        def read_all(order):
            seen = {}
            for _ in range(5):
                for n in order:
                    seen[n] = hashlib.sha256(pkg.read_stream(n)).hexdigest()
            return seen

        results = workers.run_shares([lambda: read_all(names), lambda: read_all(names[::-1]),
                                      lambda: read_all(names[1::2] + names[::2])])
    assert all(r == expected for r in results)


# -- two workers making the same folder ---------------------------------------------------
def test_a_folder_made_meanwhile_by_another_worker_is_accepted(tmp_path, monkeypatch):
    real_mkdir = os.mkdir

    def raced(path, *args):
        real_mkdir(path, *args)  # the other worker got there first
        raise FileExistsError(errno.EEXIST, "File exists", path)

    monkeypatch.setattr(fsutil.os, "mkdir", raced)
    tree = OutputTree(tmp_path / "out")
    target = tree.file(["a", "b", "c.txt"])
    assert Path(target).parent.is_dir() and not tree.fresh  # not ours: existing names are checked


def test_a_symlink_planted_in_the_race_is_refused(tmp_path, monkeypatch):
    outside = tmp_path / "outside"
    outside.mkdir()

    def planted(path, *args):
        os.symlink(outside, path)
        raise FileExistsError(errno.EEXIST, "File exists", path)

    monkeypatch.setattr(fsutil.os, "mkdir", planted)
    with pytest.raises(UnsafePathError, match="symlink"):
        OutputTree(tmp_path / "out").file(["a", "c.txt"])
    assert not list(outside.iterdir())


def test_patched_extraction_is_the_same_with_workers(tmp_path):
    # files come from the base's cabinet and from the patch's: both packages are open when the workers fork
    patches = FIXTURES / "patches"
    options = {"patches": [patches / "whole.msp"]}
    one, many = extract_both_ways(tmp_path, patches / "base.msi", 2, **options)
    assert one.ok and many.ok
    assert {Path(w.path).name for w in many.written} >= {"core.dll", "helper.dll", "config.xml"}
    assert any(" > " in w.source and "whole.msp" in w.source for w in many.written)
    assert files_under(tmp_path / "many") == files_under(tmp_path / "one")
    assert normalised(many, tmp_path / "many") == normalised(one, tmp_path / "one")


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_full_disk_fails_the_files_it_hits_and_leaves_no_partial_file(tmp_path, monkeypatch, jobs):
    payload = many_small_files(60)
    path = write_package(tmp_path, "pkg.msi", build_package(payload, directories=APP))
    real_write = os.write

    def full_disk(fd, data):
        if len(data) % 3 == 0:  # about a third of the files: the disk is full when they are written
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(fsutil.os, "write", full_disk)
    report = extract(path, tmp_path / "out", jobs=jobs)
    hit = [f for f in payload if len(f.data) % 3 == 0]
    assert sorted(f["file"].rsplit("\\", 1)[-1] for f in report.failures) == sorted(f.file_name for f in hit)
    assert all("No space left on device" in f["error"] and "cannot write" in f["error"] for f in report.failures)
    assert len(report.written) == len(payload) - len(hit) and hit
    assert not list((tmp_path / "out").rglob("*.part"))
    assert sorted(files_under(tmp_path / "out").values()) == sorted(f.data for f in payload if f not in hit)
