"""`msitools extract` and `files`: layouts, cabinets and sets, patches, recursion, damage, overwriting."""
from __future__ import annotations

import hashlib
import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from msitools.cli import cli
from msitools.limits import Limits
from msitools.extract import extract
from msitools.testing.writer.package import STANDARD_DIRECTORIES, PayloadFile, build_package

from conftest import FIXTURES, corpus_file, require_tool

PATCHES = FIXTURES / "patches"
APP = STANDARD_DIRECTORIES + [("APP", "ProgramFilesFolder", "app|Application"), ("SUB", "APP", "sub")]


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def random_bytes(n: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(n)


def files_under(root: Path) -> "dict[str, bytes]":
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def write_package(tmp_path: Path, name: str, built) -> Path:
    path = tmp_path / name
    built.write(path)
    for cab_name, data in built.cabinets:
        (tmp_path / cab_name).write_bytes(data)
    for parts, data in built.uncompressed:
        target = tmp_path.joinpath(*parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return path


PAYLOAD = [PayloadFile("APP", "a.bin", random_bytes(70000, 1)), PayloadFile("SUB", "b.bin", random_bytes(90000, 2)),
           PayloadFile("SUB", "c.txt", b"small text\r\n"), PayloadFile("APP", "d.bin", random_bytes(50000, 3))]
EXPECTED = {"SourceDir/PFiles/Application/a.bin": PAYLOAD[0].data,
            "SourceDir/PFiles/Application/sub/b.bin": PAYLOAD[1].data,
            "SourceDir/PFiles/Application/sub/c.txt": PAYLOAD[2].data,
            "SourceDir/PFiles/Application/d.bin": PAYLOAD[3].data}


@pytest.mark.parametrize("media,options", [("embedded", {}), ("external", {}),
                                           ("external", {"max_cabinet_data": 60000}), ("uncompressed", {})],
                         ids=["embedded", "external", "cabinet-set", "uncompressed"])
def test_every_media_layout_extracts_the_files(tmp_path, media, options):
    path = write_package(tmp_path, "pkg.msi", build_package(PAYLOAD, directories=APP, media=media, **options))
    result = run("extract", path, "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert files_under(tmp_path / "out") == EXPECTED


def test_cabinet_set_members_match_cabextract(tmp_path):
    cabextract = require_tool("cabextract")
    built = build_package(PAYLOAD, directories=APP, media="external", max_cabinet_data=60000)
    write_package(tmp_path, "pkg.msi", built)
    assert len(built.cabinets) > 2
    first = tmp_path / built.cabinets[0][0]
    ours = tmp_path / "ours"
    assert run("extract", first, "-o", ours).exit_code == 0
    ref = tmp_path / "ref"
    subprocess.run([cabextract, "-q", "-d", str(ref), str(first)], check=True, capture_output=True, cwd=tmp_path)
    assert files_under(ours) == files_under(ref)
    listing = json.loads(run("files", first, "--format", "json").output)["files"]
    assert any(m["continued"] for m in listing)


def test_bare_corpus_cabinet_matches_cabextract(tmp_path):
    cabextract = require_tool("cabextract")
    cab = corpus_file("vcredis1.cab")
    assert run("extract", cab, "-o", tmp_path / "ours").exit_code == 0
    subprocess.run([cabextract, "-q", "-d", str(tmp_path / "ref"), str(cab)], check=True, capture_output=True)
    assert files_under(tmp_path / "ours") == files_under(tmp_path / "ref")


def test_flat_layout_disambiguates_duplicates(tmp_path):
    result = run("extract", corpus_file("vcredist.msi"), "-o", tmp_path / "flat", "--flat")
    assert result.exit_code == 0
    names = sorted(p.name for p in (tmp_path / "flat").iterdir())
    assert "ATL80.dll" in names and "ATL80.dll.duplicate1" in names
    assert all(p.is_file() for p in (tmp_path / "flat").iterdir())
    listing = json.loads(run("files", corpus_file("vcredist.msi"), "--format", "json").output)["files"]
    assert len(names) == len(listing)


def damaged_package(tmp_path: Path) -> Path:
    """PAYLOAD in an external, uncompressed cabinet with one byte of d.bin flipped (its checksum fails)."""
    built = build_package(PAYLOAD, directories=APP, media="external", compression="none")
    path = write_package(tmp_path, "pkg.msi", built)
    cab = tmp_path / built.cabinets[0][0]
    data = bytearray(cab.read_bytes())
    data[-100] ^= 0xFF  # inside the last data block: d.bin's bytes
    cab.write_bytes(bytes(data))
    return path


def test_damaged_cabinet_fails_only_the_affected_files(tmp_path):
    path = damaged_package(tmp_path)
    proc = subprocess.run([sys.executable, "-m", "msitools", "extract", str(path), "-o", str(tmp_path / "out")],
                          capture_output=True, text=True)
    assert proc.returncode == 1
    errors = [l for l in proc.stderr.splitlines() if l.startswith("msitools: error:")]
    assert len(errors) == 1 and "d.bin" in errors[0] and "checksum" in errors[0].lower()
    out = files_under(tmp_path / "out")
    assert out == {k: v for k, v in EXPECTED.items() if not k.endswith("d.bin")}
    assert not list((tmp_path / "out").rglob("*.part"))


def test_existing_files_are_kept_unless_forced(tmp_path):
    path = write_package(tmp_path, "pkg.msi", build_package(PAYLOAD, directories=APP))
    assert run("extract", path, "-o", tmp_path / "out").exit_code == 0
    target = tmp_path / "out" / "SourceDir" / "PFiles" / "Application" / "a.bin"
    target.write_bytes(b"mine")
    again = run("extract", path, "-o", tmp_path / "out")
    assert again.exit_code == 1 and "already exists" in again.output
    assert target.read_bytes() == b"mine"
    assert run("extract", path, "-o", tmp_path / "out", "--force").exit_code == 0
    assert target.read_bytes() == PAYLOAD[0].data


def test_recursive_extraction_opens_nested_packages_and_cabinets(tmp_path):
    hello = (FIXTURES / "wixl" / "hello.msi").read_bytes()
    inner_cab = corpus_file("msi_with_external_cab.cab").read_bytes()
    outer = build_package([PayloadFile("APP", "hello.msi", hello), PayloadFile("APP", "inner.cab", inner_cab),
                           PayloadFile("APP", "notes.txt", b"plain\n")], directories=APP)
    path = write_package(tmp_path, "outer.msi", outer)
    result = run("extract", path, "-o", tmp_path / "out", "--recursive", "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert len(report["nested"]) == 2
    app = tmp_path / "out" / "SourceDir" / "PFiles" / "Application"
    assert (app / "hello.msi.extracted" / "SourceDir" / "Hello Tools" / "readme.txt").is_file()
    assert any((app / "inner.cab.extracted").iterdir())
    # without --recursive nothing is opened
    plain = extract(path, tmp_path / "plain")
    assert plain.nested == [] and not (tmp_path / "plain" / "SourceDir" / "PFiles" / "Application" /
                                       "hello.msi.extracted").exists()


def test_recursion_depth_is_limited(tmp_path):
    hello = (FIXTURES / "wixl" / "hello.msi").read_bytes()
    inner = build_package([PayloadFile("APP", "hello.msi", hello)], directories=APP).database.build("msi")
    outer = build_package([PayloadFile("APP", "inner.msi", inner)], directories=APP)
    path = write_package(tmp_path, "outer.msi", outer)
    report = extract(path, tmp_path / "out", recursive=True, limits=Limits(package_nesting_depth=1))
    assert len(report.nested) == 1 and report.nested[0].nested == []
    assert any("nesting depth" in issue for issue in report.nested[0].issues)


def test_patched_extraction_takes_files_from_the_patch_cabinet(tmp_path):
    expected = json.loads((PATCHES / "expected.json").read_text())
    members = {m["name"]: m for m in expected["whole.msp"]["cabinet"]["members"]}
    result = run("extract", PATCHES / "base.msi", "-o", tmp_path / "out", "--patch", PATCHES / "whole.msp",
                 "--format", "json")
    assert result.exit_code == 0, result.output
    written = {Path(w["path"]).name: Path(w["path"]).read_bytes() for w in json.loads(result.output)["written"]}
    for key, member in members.items():
        assert sha(written[key]) == member["sha256"]
    assert "helper.dll" in written and "config.xml" in written  # untouched files come from the base


def test_patch_extraction_writes_whole_files_and_deltas(tmp_path):
    assert run("extract", PATCHES / "whole.msp", "-o", tmp_path / "whole").exit_code == 0
    assert sorted(p.name for p in (tmp_path / "whole").iterdir()) == ["core.dll", "plugin.dll", "readme.txt"]
    assert run("extract", PATCHES / "delta.msp", "-o", tmp_path / "delta").exit_code == 0
    names = sorted(p.name for p in (tmp_path / "delta").iterdir())
    assert names == ["config.xml.delta", "config.xml.delta.json", "core.dll.delta", "core.dll.delta.json",
                     "helper.dll.delta", "helper.dll.delta.json"]
    summary = json.loads((tmp_path / "delta" / "core.dll.delta.json").read_text())
    assert summary["header"]["format"] == "PA19" and summary["header"]["new_size"] == 3072
    assert (tmp_path / "delta" / "core.dll.delta").read_bytes()[:4] == b"PA19"


def test_files_listing(tmp_path):
    rows = json.loads(run("files", corpus_file("putty-0.68-installer.msi"), "--format", "json").output)["files"]
    putty = next(r for r in rows if r["name"] == "putty.exe")
    assert putty["path"] == "SourceDir\\PFiles\\PuTTY\\putty.exe"
    assert (putty["size"], putty["version"], putty["language"]) == (713592, "0.68.0.0", "2057")
    assert putty["cabinet"].endswith("putty.cab")
    text = run("files", corpus_file("vcredist.msi")).output
    assert "vcredis1.cab" in text  # the external cabinet


def test_no_progress_bar_when_not_a_terminal(tmp_path):
    import subprocess as sp

    proc = sp.run([sys.executable, "-m", "msitools", "extract", str(FIXTURES / "wixl" / "hello.msi"), "-o",
                   str(tmp_path / "out")], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stderr == ""
    assert proc.stdout.startswith("extracted 3 files")


def test_progress_bar_on_a_terminal(tmp_path):
    script = require_tool("script")  # util-linux: runs the command on a pseudo-terminal
    proc = subprocess.run([script, "-qec", f"{sys.executable} -m msitools extract {FIXTURES / 'wixl' / 'hello.msi'}"
                           f" -o {tmp_path / 'out'}", "/dev/null"], capture_output=True, text=True)
    assert proc.returncode == 0
    assert "extracting" in proc.stdout and "3/3" in proc.stdout


def test_bomb_limits_can_be_set_on_the_command_line(tmp_path):
    # 4 MiB of zeros compress ~600:1; the defaults (64 GiB, 2000:1) let it through
    built = build_package([PayloadFile("APP", "zeros.bin", bytes(4 << 20)), PayloadFile("APP", "x.txt", b"x")],
                          directories=APP)
    path = write_package(tmp_path, "bomb.msi", built)
    for option, value, limit in (("--max-ratio", "50", "compression_ratio"), ("--max-output", "1M",
                                                                            "decompressed_total")):
        out = tmp_path / f"out{option}"
        proc = subprocess.run([sys.executable, "-m", "msitools", "extract", str(path), "-o", str(out), option, value],
                              capture_output=True, text=True)
        assert proc.returncode == 1
        errors = [line for line in proc.stderr.splitlines() if line.startswith("msitools: error:")]
        assert len(errors) == 1 and f"{limit} limit exceeded" in errors[0] and option in errors[0]
        assert not [p for p in out.rglob("*") if p.is_file()]  # nothing half-written
    assert run("extract", path, "-o", tmp_path / "ok", "--max-output", "5M", "--max-ratio", "1000").exit_code == 0
    assert (tmp_path / "ok" / "SourceDir" / "PFiles" / "Application" / "zeros.bin").stat().st_size == 4 << 20


@pytest.mark.parametrize("text,size", [("1048576", 1 << 20), ("512K", 512 << 10), ("64M", 64 << 20),
                                       ("2G", 2 << 30), ("1t", 1 << 40), ("3MiB", 3 << 20), ("5KB", 5 << 10)])
def test_sizes_on_the_command_line(text, size):
    from msitools.cli.common import ByteSize

    assert ByteSize().convert(text, None, None) == size


@pytest.mark.parametrize("text", ["", "M", "12Q", "-5M", "0", "1.5G"])
def test_bad_sizes_are_refused(tmp_path, text):
    result = run("extract", FIXTURES / "wixl" / "hello.msi", "-o", tmp_path / "out", "--max-output", text)
    assert result.exit_code == 2 and "--max-output" in result.output
