"""Directory table resolution: install and source paths, loops, and parents missing from the table."""
from __future__ import annotations

import subprocess
import sys

from msitools.db.directory import resolve_directories
from msitools.testing.writer.package import PayloadFile, build_package


def test_a_parent_missing_from_the_table_becomes_a_root_as_lessmsi_places_it():
    tree = resolve_directories([("TARGETDIR", None, "SourceDir"), ("APP", "IVINETSTANDARDROOTDIR", "App"),
                                ("SUB", "APP", "sub")])
    assert tree.path_of("SUB") == ("IVINETSTANDARDROOTDIR", "App", "sub")
    assert tree.path_of("APP") == ("IVINETSTANDARDROOTDIR", "App")
    assert len(tree.issues) == 1 and "'IVINETSTANDARDROOTDIR'" in tree.issues[0] and "at the root" in tree.issues[0]


def test_a_loop_is_a_root_with_a_note():
    tree = resolve_directories([("A", "B", "a"), ("B", "A", "b")])
    assert all(tree.path_of(d)[0] == "SourceDir" for d in ("A", "B"))
    assert any("loops" in issue for issue in tree.issues)


def test_extract_places_orphans_at_the_root_and_keeps_the_note(tmp_path):
    dirs = [("TARGETDIR", None, "SourceDir"), ("APP", "IVINETSTANDARDROOTDIR", "App")]
    built = build_package([PayloadFile("APP", "a.txt", b"a")], directories=dirs)
    path = tmp_path / "orphan.msi"
    built.write(path)
    msidump = subprocess.run(["msiinfo", "export", str(path), "Directory"], capture_output=True, text=True)
    if msidump.returncode == 0:  # an independent reader sees the same table
        assert "IVINETSTANDARDROOTDIR" in msidump.stdout
    proc = subprocess.run([sys.executable, "-m", "msitools", "extract", str(path), "-o", str(tmp_path / "out")],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "out" / "IVINETSTANDARDROOTDIR" / "App" / "a.txt").read_bytes() == b"a"
    assert "at the root" in proc.stderr
