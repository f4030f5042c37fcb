"""`extract` as a user meets it: an unusable output folder, interrupted runs, resuming, one file, progress."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from msitools.extract import extract
from msitools.testing.writer.package import PayloadFile, build_package

from conftest import FIXTURES
from extract.test_cli import APP, EXPECTED, PAYLOAD, files_under, random_bytes, write_package


def _run(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "msitools", *map(str, args)], capture_output=True, text=True)


def _errors(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("msitools: error:")]


@pytest.fixture
def package(tmp_path: Path) -> Path:
    return write_package(tmp_path, "pkg.msi", build_package(PAYLOAD, directories=APP))


# -- the output folder -----------------------------------------------------------------------------
def test_an_output_folder_that_cannot_be_created_fails_once_with_one_line(tmp_path, package):
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    proc = _run("extract", package, "-o", blocker / "out")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == _errors(proc.stderr)
    assert len(_errors(proc.stderr)) == 1 and "cannot create the output folder" in proc.stderr
    assert "extracted" not in proc.stdout


def test_an_output_path_that_is_a_file_is_refused(tmp_path, package):
    target = tmp_path / "taken"
    target.write_text("x")
    proc = _run("extract", package, "-o", target)
    assert proc.returncode == 2 and "is a file" in proc.stderr
    assert target.read_text() == "x"
    with pytest.raises(Exception, match="exists and is not a folder"):  # the library says it too
        extract(package, target)


@pytest.mark.skipif(not os.path.isdir("/proc/1"), reason="needs /proc (a folder no one can create files in)")
def test_an_output_folder_that_cannot_be_written_fails_before_any_file(package):
    proc = _run("extract", package, "-o", "/proc/1")
    assert proc.returncode == 2
    lines = _errors(proc.stderr)
    assert len(lines) == 1 and "cannot write in the output folder" in lines[0] and "/proc/1" in lines[0]


# -- interrupted runs ------------------------------------------------------------------------------
def test_unfinished_files_of_a_dead_run_are_removed_and_a_live_run_is_left_alone(tmp_path, package):
    out = tmp_path / "out"
    folder = out / "SourceDir" / "PFiles"
    folder.mkdir(parents=True)
    dead = folder / ".msitools-999999999-7.part"  # no process has this number
    dead.write_bytes(b"half a file")
    live = folder / f".msitools-{os.getppid()}-1.part"  # the test runner's parent: alive
    live.write_bytes(b"being written")
    proc = _run("extract", package, "-o", out)
    assert proc.returncode == 0, proc.stderr
    assert not dead.exists() and live.exists()
    assert "removed 1 unfinished temporary file(s) left by an interrupted run" in proc.stderr
    live.unlink()
    assert files_under(out) == EXPECTED


def _big_package(tmp_path: Path) -> Path:
    files = [PayloadFile("APP", f"f{i:04}.bin", random_bytes(40000, i)) for i in range(600)]
    return write_package(tmp_path, "big.msi", build_package(files, directories=APP))


@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_run_leaves_no_temporary_file(tmp_path, how):
    path = _big_package(tmp_path)
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "msitools", "extract", str(path), "-o", str(out), "--jobs", "2"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (out.exists() and any(out.rglob("f*.bin"))):
        time.sleep(0.005)
    assert proc.poll() is None, "extraction ended before it could be interrupted"
    proc.send_signal(how)
    _stdout, stderr = proc.communicate(timeout=120)
    if proc.returncode == 0:
        pytest.skip("extraction finished before the signal arrived")
    assert proc.returncode == 130, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr
    assert not [p for p in out.rglob("*") if p.name.endswith(".part")]
    written = [p for p in out.rglob("*.bin")]
    assert written and all(p.stat().st_size == 40000 for p in written)  # whole files only
    resumed = _run("extract", path, "-o", out, "--skip-existing", "--format", "json")
    assert resumed.returncode == 0, resumed.stderr
    report = json.loads(resumed.stdout)
    assert len(report["skipped"]) == len(written) and len(report["written"]) == 600 - len(written)


# -- resuming ----------------------------------------------------------------------------------------
def test_skip_existing_keeps_whole_files_writes_missing_ones_and_fails_on_a_size_change(tmp_path, package):
    out = tmp_path / "out"
    assert _run("extract", package, "-o", out).returncode == 0
    app = out / "SourceDir" / "PFiles" / "Application"
    (app / "a.bin").unlink()
    (app / "d.bin").write_bytes(b"not the file")
    proc = _run("extract", package, "-o", out, "--skip-existing", "--format", "json")
    assert proc.returncode == 1
    report = json.loads(proc.stdout)
    assert [w["name"].rsplit("\\", 1)[-1] for w in report["written"]] == ["a.bin"]
    assert sorted(s["name"].rsplit("\\", 1)[-1] for s in report["skipped"]) == ["b.bin", "c.txt"]
    assert len(report["failures"]) == 1 and "d.bin" in report["failures"][0]["error"]
    assert "exists with 12 bytes" in report["failures"][0]["error"]
    assert (app / "a.bin").read_bytes() == PAYLOAD[0].data and (app / "d.bin").read_bytes() == b"not the file"


def test_force_and_skip_existing_exclude_each_other(tmp_path, package):
    proc = _run("extract", package, "-o", tmp_path / "out", "--force", "--skip-existing")
    assert proc.returncode == 2 and "exclude each other" in proc.stderr


def test_an_existing_file_without_an_option_says_how_to_go_on(tmp_path, package):
    out = tmp_path / "out"
    assert _run("extract", package, "-o", out).returncode == 0
    proc = _run("extract", package, "-o", out)
    assert proc.returncode == 1 and "--skip-existing" in proc.stderr and "--force" in proc.stderr


# -- one file, or a few --------------------------------------------------------------------------------
@pytest.mark.parametrize("args,expected", [
    (["a.bin"], ["SourceDir/PFiles/Application/a.bin"]),
    (["A.BIN"], ["SourceDir/PFiles/Application/a.bin"]),  # names ignore case, as on Windows
    (["*.txt"], ["SourceDir/PFiles/Application/sub/c.txt"]),
    (["a.bin", "--include", "b.*"], ["SourceDir/PFiles/Application/a.bin", "SourceDir/PFiles/Application/sub/b.bin"]),
    (["PFiles/Application/sub/*"], ["SourceDir/PFiles/Application/sub/b.bin",
                                    "SourceDir/PFiles/Application/sub/c.txt"]),
    (["SourceDir\\PFiles\\Application\\d.bin"], ["SourceDir/PFiles/Application/d.bin"]),
])
def test_names_and_patterns_write_only_the_matching_files(tmp_path, package, args, expected):
    out = tmp_path / "out"
    proc = _run("extract", package, "-o", out, *args)
    assert proc.returncode == 0, proc.stderr
    assert sorted(files_under(out)) == expected
    for name in expected:
        assert files_under(out)[name] == EXPECTED[name]


def test_a_pattern_that_matches_nothing_writes_nothing(tmp_path, package):
    out = tmp_path / "out"
    proc = _run("extract", package, "-o", out, "a.bin", "nothing*.dll")
    assert proc.returncode == 2
    lines = _errors(proc.stderr)
    assert len(lines) == 1 and "no file matches 'nothing*.dll'" in lines[0]
    assert files_under(out) == {}


def test_patterns_select_cabinet_members_and_patch_payload(tmp_path):
    out = tmp_path / "patch"
    proc = _run("extract", FIXTURES / "patches" / "whole.msp", "-o", out, "--format", "json", "*")
    assert proc.returncode in (0, 1)
    every = json.loads(proc.stdout)["written"]
    assert every
    first = every[0]["name"]
    one = _run("extract", FIXTURES / "patches" / "whole.msp", "-o", tmp_path / "one", "--format", "json", first)
    assert one.returncode == 0, one.stderr
    assert [w["name"] for w in json.loads(one.stdout)["written"]] == [first]


def test_patterns_select_members_of_a_bare_cabinet(tmp_path):
    from msitools.testing.writer.cab import FileSpec, FolderSpec, build_cabinet

    path = tmp_path / "x.cab"
    path.write_bytes(build_cabinet([FolderSpec([FileSpec("dir\\one.txt", b"1"), FileSpec("two.dll", b"2"),
                                                FileSpec("three.txt", b"3")], compression="mszip")]))
    proc = _run("extract", path, "-o", tmp_path / "out", "*.txt")
    assert proc.returncode == 0, proc.stderr
    assert files_under(tmp_path / "out") == {"dir/one.txt": b"1", "three.txt": b"3"}
    missing = _run("extract", path, "-o", tmp_path / "none", "four.txt")
    assert missing.returncode == 2 and "no file matches 'four.txt'" in missing.stderr


# -- progress ------------------------------------------------------------------------------------------
def test_progress_counts_every_file_of_every_worker(tmp_path):
    files = [PayloadFile("APP", f"f{i:03}.bin", random_bytes(3000, i)) for i in range(60)]
    path = write_package(tmp_path, "many.msi", build_package(files, directories=APP))
    seen: list[tuple[str, int]] = []
    report = extract(path, tmp_path / "out", jobs=3, progress=lambda name, total: seen.append((name, total)))
    assert len(report.written) == 60 and not report.failures
    assert len(seen) == 60 and {total for _name, total in seen} == {60}
