"""The quick fingerprint (first and last MiB) and the full hash of a library file, read once when small."""
from __future__ import annotations

import hashlib
import os

import pytest

from msitools.library import scan as scan_mod


def reference(data: bytes, edge: int) -> tuple[str, str]:
    """The definition: SHA-256 of the first *edge* bytes and of the bytes from max(edge, size - edge) on."""
    edges = hashlib.sha256(data[:edge])
    if len(data) > edge:
        edges.update(data[max(edge, len(data) - edge):])
    return edges.hexdigest(), hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("size", [0, 1, 15, 16, 17, 31, 32, 33, 47, 48, 100, 1000])
def test_identity_matches_its_definition_at_every_boundary(tmp_path, monkeypatch, size):
    monkeypatch.setattr(scan_mod, "EDGE", 16)
    data = bytes((i * 7 + 3) % 251 for i in range(size))
    path = tmp_path / "p.msi"
    path.write_bytes(data)
    got_size, _, edges, whole = scan_mod._identity(str(path))
    assert (got_size, edges, whole) == (size, *reference(data, 16))


def test_changed_edges_skip_the_full_hash(tmp_path, monkeypatch):
    monkeypatch.setattr(scan_mod, "EDGE", 16)
    path = tmp_path / "p.msi"
    path.write_bytes(bytes(100))
    _, _, edges, whole = scan_mod._identity(str(path), expect="0" * 64)
    assert whole is None and edges == reference(bytes(100), 16)[0]
    _, _, _, whole = scan_mod._identity(str(path), expect=edges)
    assert whole == hashlib.sha256(bytes(100)).hexdigest()


def test_a_change_in_the_middle_is_caught_by_the_full_hash(tmp_path, monkeypatch):
    monkeypatch.setattr(scan_mod, "EDGE", 16)
    path = tmp_path / "p.msi"
    path.write_bytes(bytes(100))
    known = scan_mod._identity(str(path))
    stat = path.stat()
    path.write_bytes(bytes(50) + b"\x01" + bytes(49))  # same size, same edges

    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert scan_mod._identity(str(path))[2] == known[2]
    assert not scan_mod._unchanged(str(path), (known[0], known[1], known[2], known[3]))
    path.write_bytes(bytes(100))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert scan_mod._unchanged(str(path), (known[0], known[1], known[2], known[3]))


@pytest.mark.parametrize("size", [1, 10, 16])
def test_a_small_file_changed_under_the_same_size_and_mtime_is_scanned_again(tmp_path, monkeypatch, size):
    monkeypatch.setattr(scan_mod, "EDGE", 16)
    path = tmp_path / "p.msi"
    path.write_bytes(bytes(size))
    known = scan_mod._identity(str(path))
    stat = path.stat()
    assert scan_mod._unchanged(str(path), (known[0], known[1], known[2], known[3]))
    path.write_bytes(bytes(size - 1) + b"\x01")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert not scan_mod._unchanged(str(path), (known[0], known[1], known[2], known[3]))
    assert not scan_mod._unchanged(str(path), None)
    path.unlink()
    assert not scan_mod._unchanged(str(path), (known[0], known[1], known[2], known[3]))
