"""Hostile inputs (fixtures/attacks, built by scripts/build_attack_fixtures.py) never escape the output folder.

For each fixture: extraction into ``parent/out`` leaves ``parent`` (and everything above it)
untouched, unsafe files fail with one error line and exit 2, safe files are still extracted,
and nothing takes long or much memory (the bomb is never inflated past its declared size).
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from msitools.cli import cli

from conftest import FIXTURES, load_script

ATTACKS = FIXTURES / "attacks"


def load_builder():
    return load_script("build_attack_fixtures")


def test_fixtures_rebuild_identically(tmp_path):
    builder = load_builder()
    built = builder.build(tmp_path)
    for name, data in built.items():
        assert (ATTACKS / name).read_bytes() == data, f"{name} differs from scripts/build_attack_fixtures.py output"


def snapshot(root: Path) -> "dict[str, tuple]":
    out = {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = p.lstat()
            # a folder's mtime changes when out/ is created in it; files and links must not change at all
            mtime = None if p.is_dir() and not p.is_symlink() else st.st_mtime_ns
            out[str(p.relative_to(root))] = (st.st_size if mtime else None, st.st_mode, mtime)
    return out


def extract_in_sandbox(tmp_path: Path, fixture: Path, *extra: str):
    sandbox = tmp_path / "sandbox"
    parent = sandbox / "parent"
    parent.mkdir(parents=True)
    (parent / "sentinel.txt").write_text("untouched")
    (sandbox / "outside.txt").write_text("untouched")
    before = snapshot(sandbox)
    result = subprocess.run([sys.executable, "-m", "msitools", "extract", str(fixture), "-o",
                             str(parent / "out"), *extra], capture_output=True, text=True, timeout=60)
    after = snapshot(sandbox)
    outside_after = {k: v for k, v in after.items() if not k.startswith(os.path.join("parent", "out"))}
    assert outside_after == before, "extraction touched files outside the output folder"
    return result, parent / "out"


def error_lines(stderr: str) -> "list[str]":
    return [l for l in stderr.splitlines() if l.startswith("msitools: error:")]


EXPECTED_FAILURES = {
    "dotdot-dir.msi": ("unsafe name '..'", ["SourceDir/PFiles/good.txt"]),
    "dotdot-file.msi": ("path separator", ["SourceDir/PFiles/Application/good.txt"]),
    "absolute.msi": ("path separator", ["SourceDir/PFiles/good.txt", "SourceDir/C/drive.txt"]),
    "device-names.msi": ("reserved device name", ["SourceDir/PFiles/Application/good.txt"]),
    "long-names.msi": ("longer than 255 bytes", ["SourceDir/PFiles/Application/good.txt"]),
    "size-lies.msi": ("more than the 10 bytes declared", ["SourceDir/PFiles/Application/good.txt"]),
    "overlap.cab": ("overlaps", ["a.txt"]),
}


@pytest.mark.parametrize("name", sorted(EXPECTED_FAILURES))
def test_unsafe_entries_fail_safe_ones_extract(tmp_path, name):
    message, good = EXPECTED_FAILURES[name]
    result, out = extract_in_sandbox(tmp_path, ATTACKS / name)
    assert result.returncode == 1, result.stderr
    lines = error_lines(result.stderr)
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in result.stderr
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert written == sorted(good)
    assert not any(p.name.endswith(".part") for p in out.rglob("*")), "a temporary file was left behind"


def test_case_collisions_are_disambiguated(tmp_path):
    result, out = extract_in_sandbox(tmp_path, ATTACKS / "case-collision.msi")
    assert result.returncode == 0
    names = sorted(p.name for p in (out / "SourceDir" / "PFiles" / "Application").iterdir())
    assert names == ["README.TXT.duplicate1", "Readme.txt", "readme.txt.duplicate2"]
    assert "collide" in result.stderr


def test_bomb_is_never_inflated_past_its_declared_size(tmp_path):
    result, out = extract_in_sandbox(tmp_path, ATTACKS / "bomb.cab")
    assert result.returncode == 0, result.stderr
    assert (out / "bomb.bin").stat().st_size == 1000


@pytest.mark.parametrize("name,message", [
    ("chain-loop.msi", "loops"),
    ("pool-millions.msi", "_StringData is too short"),
])
def test_structural_attacks_are_clean_errors(tmp_path, name, message):
    result, out = extract_in_sandbox(tmp_path, ATTACKS / name)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0]


def test_transform_overrun_is_a_clean_error(tmp_path):
    base = FIXTURES / "wixl" / "hello.msi"
    result = CliRunner().invoke(cli, ["transform", str(ATTACKS / "transform-overrun.mst"), "--base", str(base)])
    assert result.exit_code == 2 and "runs past the end of the stream" in result.output
    # without a base the records cannot be told from another schema: reported, not decoded
    result = CliRunner().invoke(cli, ["transform", str(ATTACKS / "transform-overrun.mst"), "--format", "json"])
    assert result.exit_code == 0 and '"schema": "unknown"' in result.output


def test_symlink_planted_in_output_folder_is_refused(tmp_path):
    sandbox = tmp_path / "sandbox"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = sandbox / "out"
    out.mkdir(parents=True)
    (out / "SourceDir").symlink_to(elsewhere, target_is_directory=True)
    result = subprocess.run([sys.executable, "-m", "msitools", "extract", str(FIXTURES / "wixl" / "hello.msi"),
                             "-o", str(out)], capture_output=True, text=True)
    assert result.returncode == 1
    assert "symlink" in result.stderr
    assert list(elsewhere.iterdir()) == []


def test_symlink_at_a_file_destination_is_not_followed_even_with_force(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    out = tmp_path / "out"
    dest = out / "SourceDir" / "Hello Tools"  # wixl gives ProgramFilesFolder the DefaultDir "."
    dest.mkdir(parents=True)
    (dest / "readme.txt").symlink_to(victim)
    result = subprocess.run([sys.executable, "-m", "msitools", "extract", str(FIXTURES / "wixl" / "hello.msi"),
                             "-o", str(out), "--force"], capture_output=True, text=True)
    assert result.returncode == 1 and "symlink" in result.stderr
    assert victim.read_text() == "keep me"
