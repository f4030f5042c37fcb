"""`diff`: two versions built by the fixture writer differ in exactly what was changed; tables agree with msidiff."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from msitools.diff import diff_files
from msitools.testing.writer.package import STANDARD_DIRECTORIES, PayloadFile, build_package
from msitools.testing.writer.pe import build_pe

from conftest import FIXTURES, corpus_file, require_tool
from review.test_review import STAMP

DIRS = STANDARD_DIRECTORIES + [("APP", "ProgramFilesFolder", "app|Application")]


def _image(version: str) -> bytes:
    return build_pe(machine="x64", file_version=version, product_version=version, size=4096, timestamp=STAMP,
                    is_dll=True)


def _version(path: Path, v2: bool) -> Path:
    files = [PayloadFile("APP", "core.dll", _image("2.0.0.0" if v2 else "1.0.0.0"), key="core.dll",
                         version="2.0.0.0" if v2 else "1.0.0.0"),
             PayloadFile("APP", "readme.txt", b"same text\r\n", key="readme.txt")]
    if v2:
        files.append(PayloadFile("APP", "new.txt", b"added in 2\r\n", key="new.txt"))
    built = build_package(files, directories=DIRS, product_version="2.0.0.0" if v2 else "1.0.0.0",
                          package_code="{11111111-2222-3333-4444-0000000000A2}" if v2 else
                          "{11111111-2222-3333-4444-0000000000A1}")
    db = built.database
    db.add_table("Registry", [("Registry", "s72", True), ("Root", "i2", False), ("Key", "l255", False),
                              ("Name", "L255", False), ("Value", "L0", False), ("Component_", "s72", False)])
    db.add_row("Registry", "Keep", 2, "Software\\Fixture", "Keep", "1", "core.dll")
    if not v2:
        db.add_row("Registry", "Gone", 2, "Software\\Fixture", "Old", "1", "core.dll")
    db.add_table("CustomAction", [("Action", "s72", True), ("Type", "i2", False), ("Source", "S72", False),
                                  ("Target", "S255", False)])
    db.add_row("CustomAction", "SetX", 51, "X", "1")
    if v2:
        db.add_row("CustomAction", "RunY", 1 | 0x400 | 0x800, "Helper", "Main")
        db.add_table("Binary", [("Name", "s72", True), ("Data", "v0", False)])
        db.add_row("Binary", "Helper", _image("2.0.0.0"))
    db.write(path)
    return path


@pytest.fixture(scope="module")
def versions(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("diff")
    return _version(folder / "v1.msi", False), _version(folder / "v2.msi", True)


def test_two_versions_differ_in_exactly_what_was_changed(versions):
    old, new = versions
    r = diff_files(str(old), str(new))
    assert not r["identical"]
    t = r["tables"]
    assert t["added"] == ["Binary"] and t["removed"] == []
    changed = t["changed"]
    assert {"CustomAction", "File", "Property", "Registry"} <= set(changed)
    assert [row["key"] for row in changed["Registry"]["removed"]] == [["Gone"]] and not changed["Registry"]["added"]
    assert [row["key"] for row in changed["CustomAction"]["added"]] == [["RunY"]]
    assert [row["key"] for row in changed["File"]["added"]] == [["new.txt"]]
    core = next(c for c in changed["File"]["changed"] if c["key"] == ["core.dll"])
    assert core["columns"]["Version"] == {"old": "1.0.0.0", "new": "2.0.0.0"}
    assert changed["Property"]["changed"] == [{"key": ["ProductVersion"],
                                               "columns": {"Value": {"old": "1.0.0.0", "new": "2.0.0.0"}}}]
    assert r["summary"]["package_code"]["new"] == "{11111111-2222-3333-4444-0000000000A2}"
    assert "Binary.Helper" in r["streams"]["added"] and "payload.cab" in r["streams"]["changed"]
    files = r["files"]
    assert [f["path"] for f in files["added"]] == ["SourceDir\\PFiles\\Application\\new.txt"]
    assert files["removed"] == []
    assert [(f["path"], sorted(f["fields"])) for f in files["changed"]] == [
        ("SourceDir\\PFiles\\Application\\core.dll", ["sha256", "version"])]
    assert [a["key"] for a in r["custom_actions"]["added"]] == [["RunY"]]


def test_a_package_is_identical_to_itself_and_exit_codes_say_so(versions, tmp_path):
    old, new = versions
    same = subprocess.run([sys.executable, "-m", "msitools", "diff", str(old), str(old)], capture_output=True,
                          text=True)
    assert same.returncode == 0 and "identical" in same.stdout
    differ = subprocess.run([sys.executable, "-m", "msitools", "diff", str(old), str(new), "--format", "json"],
                            capture_output=True, text=True)
    assert differ.returncode == 1 and json.loads(differ.stdout)["identical"] is False
    md = subprocess.run([sys.executable, "-m", "msitools", "diff", str(old), str(new), "-o", str(tmp_path / "d.md")],
                        capture_output=True, text=True)
    assert md.returncode == 1 and (tmp_path / "d.md").read_text().startswith("# v1.msi → v2.msi")


def test_a_package_against_its_patched_self():
    patches = FIXTURES / "patches"
    r = diff_files(str(patches / "base.msi"), patches=[str(patches / "whole.msp")])
    assert r["new"] == "base.msi + whole.msp"
    core = next(c for c in r["tables"]["changed"]["File"]["changed"] if c["key"] == ["core.dll"])
    assert core["columns"]["Version"] == {"old": "1.0.0.0", "new": "1.0.1.0"}
    assert any(f["path"].endswith("plugin.dll") for f in r["files"]["added"])


def test_two_patches():
    patches = FIXTURES / "patches"
    r = diff_files(str(patches / "whole.msp"), str(patches / "delta.msp"))
    assert r["kinds"] == {"old": "msp", "new": "msp"}
    assert "MsiPatchMetadata" in r["tables"]["changed"]
    assert r["summary"]["patch_code"]["new"] == "{B0000002-2222-4222-8222-222222222222}"


def _msidiff_counts(old: Path, new: Path, tmp_path: Path) -> dict[str, tuple[int, int]]:
    """Per table, the data lines msidiff -t removes and adds (IDT header lines left out), a line that only moved
    (removed in one place, added in another) cancelled: msidiff diffs text, we compare rows by primary key."""
    from collections import Counter

    msidiff = require_tool("msidiff")
    proc = subprocess.run([msidiff, "-t", str(old), str(new)], capture_output=True, text=True, cwd=tmp_path)
    minus: dict[str, Counter] = {}
    plus: dict[str, Counter] = {}
    table = None
    old_line = new_line = 0
    for line in proc.stdout.splitlines():
        if line.startswith("diff "):
            name = line.rsplit("/", 1)[-1]
            table = name[:-4] if name.endswith(".idt") and name not in ("_SummaryInformation.idt",
                                                                        "_ForceCodepage.idt") else None
            continue
        if table is None or line.startswith(("---", "+++")):
            continue
        hunk = re.match(r"@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@", line)
        if hunk:
            old_line, new_line = int(hunk.group(1)), int(hunk.group(2))
            continue
        if line.startswith("-"):
            if old_line > 3:
                minus.setdefault(table, Counter())[line[1:]] += 1
            old_line += 1
        elif line.startswith("+"):
            if new_line > 3:
                plus.setdefault(table, Counter())[line[1:]] += 1
            new_line += 1
        else:
            old_line += 1
            new_line += 1
    out = {}
    for name in set(minus) | set(plus):
        gone, came = minus.get(name, Counter()), plus.get(name, Counter())
        removed, added = sum((gone - came).values()), sum((came - gone).values())
        if removed or added:
            out[name] = (removed, added)
    return out


def _ours(old: Path, new: Path) -> dict[str, tuple[int, int]]:
    r = diff_files(str(old), str(new))
    out = {}
    for name, change in r["tables"]["changed"].items():
        if change["columns_added"] or change["columns_removed"]:
            continue  # every row's text changes with the columns: not comparable row by row
        out[name] = (len(change["removed"]) + len(change["changed"]), len(change["added"]) + len(change["changed"]))
    return {k: v for k, v in out.items() if v != (0, 0)}


def test_tables_agree_with_msidiff_on_fixtures(versions, tmp_path):
    old, new = versions
    theirs = _msidiff_counts(old, new, tmp_path)
    ours = _ours(old, new)
    assert ours == {k: v for k, v in theirs.items() if k in ours or k != "Binary"}


@pytest.mark.parametrize("pair", [("putty-0.68-installer.msi", "msi_with_external_cab.msi"),
                                  ("vcredist.msi", "putty-0.68-installer.msi")], ids=["putty-ext", "vcredist-putty"])
def test_tables_agree_with_msidiff_on_the_corpus(tmp_path, pair):
    old, new = (corpus_file(name) for name in pair)
    r = diff_files(str(old), str(new))
    theirs = _msidiff_counts(old, new, tmp_path)
    ours = _ours(old, new)
    both = set(r["tables"]["changed"]) - {n for n, c in r["tables"]["changed"].items()
                                          if c["columns_added"] or c["columns_removed"]}
    assert {k: v for k, v in theirs.items() if k in both} == ours
    # every table msidiff sees changing is one we report: changed, added, removed, or with columns changed
    reported = set(r["tables"]["changed"]) | set(r["tables"]["added"]) | set(r["tables"]["removed"])
    assert set(theirs) <= reported

