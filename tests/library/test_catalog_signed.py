"""Payload signed through catalogs, recorded by scan as verify judges it: the real CRT assembly of
vcredist.msi, and the same assembly repackaged with one byte of a DLL changed."""
from __future__ import annotations

import sqlite3

from conftest import corpus_file
from signing import altered_crt_package

from msitools.library.query import ask
from msitools.library.scan import plan, scan


def _statuses(db, name):
    with sqlite3.connect(db) as conn:
        return [r[0] for r in conn.execute("SELECT signature_status FROM files WHERE name = ? COLLATE NOCASE",
                                           (name,))]


def test_catalog_signed_payload_is_recorded(tmp_path):
    vcredist = corpus_file("vcredist.msi")
    db = tmp_path / "c.sqlite"
    scan([str(vcredist)], db)
    assert "catalog_signed" in _statuses(db, "msvcm80.dll")
    with sqlite3.connect(db) as conn:
        signer = conn.execute("SELECT signer FROM files WHERE name = 'msvcm80.dll' AND "
                              "signature_status = 'catalog_signed'").fetchone()[0]
    assert "Microsoft" in signer
    assert plan(str(vcredist), split_bytes=0) == [None]  # a catalog vouches across cabinets: never split
    assert not [r for r in ask(db, "altered")["rows"] if r[1] and "msvcm80" in r[1]]


def test_a_dll_changed_beside_its_catalog_is_recorded_as_altered(tmp_path):
    share = tmp_path / "share"
    share.mkdir()
    altered_crt_package(corpus_file("vcredist.msi"), tmp_path).rename(share / "crt.msi")
    db = tmp_path / "c.sqlite"
    scan([str(share)], db)
    assert _statuses(db, "msvcm80.dll") == ["catalog_altered"]
    assert _statuses(db, "msvcr80.dll") == ["signed_valid"]
    altered = ask(db, "altered")["rows"]
    assert any(row[1] and row[1].endswith("msvcm80.dll") and row[2] == "catalog_altered" for row in altered)
