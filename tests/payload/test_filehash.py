"""msitools.payload.filehash: MsiFileHash values and checks.

Expected values come from outside this project: Wine's conformance test
``test_MsiGetFileHash`` (dlls/msi/tests/msi.c, which also runs on Windows) and
the MsiFileHash tables that real packages' build tools wrote.  Table rows are
read with ``msiinfo export`` and payload files are extracted with
``msiinfo extract`` + ``cabextract``, so no byte of the comparison passes
through our own readers.
"""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from conftest import corpus_file, require_tool
from msitools.errors import UsageError
from msitools.payload.filehash import (
    INVALID,
    MATCH,
    MISMATCH,
    MISSING,
    check_file_hashes,
    file_hash_parts,
    md5_from_parts,
    parts_from_md5,
    summarize,
)


def _signed(value: int) -> int:
    return value - (1 << 32) if value >= 1 << 31 else value


# Wine dlls/msi/tests/msi.c hash_data[]: (file content, MSIFILEHASHINFO.dwData as unsigned DWORDs).
# create_file_data() writes the string and, when a size is given, extends the file to that size.
CAESAR = b"C:\\Program Files\\msitest\\caesar\n"
WINE_VECTORS = [
    (b"", (0, 0, 0, 0)),
    (b"abc", (0x98500190, 0xB04FD23C, 0x7D3F96D6, 0x727FE128)),
    (CAESAR, (0x2B566794, 0xFD42181B, 0x2514D6E4, 0x5768B4E2)),
    (CAESAR.ljust(500, b"\x00"), (0x58095058, 0x805EFEFF, 0x10F3483E, 0x0147D653)),
]


@pytest.mark.parametrize("data,dwords", WINE_VECTORS, ids=["empty", "abc", "caesar", "caesar-500"])
def test_wine_msigetfilehash_vectors(tmp_path, data, dwords):
    expected = tuple(_signed(v) for v in dwords)
    assert file_hash_parts(data) == expected
    path = tmp_path / "f.bin"
    path.write_bytes(data)
    assert file_hash_parts(path) == expected
    assert file_hash_parts(iter([data[:7], b"", data[7:]])) == expected  # chunked, with an empty chunk


def test_empty_file_is_zeros_not_md5_of_nothing():
    assert file_hash_parts(b"") == (0, 0, 0, 0)
    assert file_hash_parts([]) == (0, 0, 0, 0)  # no chunks at all: an empty file
    assert parts_from_md5(bytes.fromhex("d41d8cd98f00b204e9800998ecf8427e")) != (0, 0, 0, 0)


def test_parts_round_trip_signed_and_unsigned():
    digest = bytes.fromhex("900150983cd24fb0d6963f7d28e17f72")  # MD5("abc") (RFC 1321 test suite)
    parts = parts_from_md5(digest)
    assert all(-(1 << 31) <= p < (1 << 31) for p in parts)
    assert md5_from_parts(parts) == digest
    assert md5_from_parts([p & 0xFFFFFFFF for p in parts]) == digest
    with pytest.raises(UsageError):
        md5_from_parts([1, 2, 3])
    with pytest.raises(UsageError):
        md5_from_parts([1 << 32, 0, 0, 0])


# --------------------------------------------------------------------------- corpus packages

def _idt_rows(package: Path, table: str) -> "list[list[str]]":
    tool = require_tool("msiinfo")
    out = subprocess.run([tool, "export", str(package), table], check=True, capture_output=True).stdout
    lines = out.decode("utf-8", "replace").splitlines()
    return [line.split("\t") for line in lines[3:] if line]


def _msifilehash_rows(package: Path) -> "list[tuple]":
    return [(r[0], int(r[1]), int(r[2]), int(r[3]), int(r[4]), int(r[5])) for r in _idt_rows(package, "MsiFileHash")]


def _payload(package: Path, workdir: Path) -> Path:
    """Extract every file of the package's (single) cabinet with msiinfo + cabextract; files are named by key."""
    cabextract = require_tool("cabextract")
    media = _idt_rows(package, "Media")
    assert len(media) == 1, media
    cabinet = media[0][3]
    if cabinet.startswith("#"):
        cab = workdir / "embedded.cab"
        data = subprocess.run([require_tool("msiinfo"), "extract", str(package), cabinet[1:]], check=True,
                              capture_output=True).stdout
        cab.write_bytes(data)
    else:
        cab = corpus_file(cabinet)
    out = workdir / "files"
    subprocess.run([cabextract, "-q", "-d", str(out), str(cab)], check=True, capture_output=True)
    return out


@pytest.mark.parametrize("name,count", [("putty-0.68-installer.msi", None), ("msi_with_external_cab.msi", 1)])
def test_corpus_hashes_match_extracted_files(tmp_path, name, count):
    package = corpus_file(name)
    rows = _msifilehash_rows(package)
    assert rows and (count is None or len(rows) == count)
    files = _payload(package, tmp_path)
    results = check_file_hashes(rows, {row[0]: files / row[0] for row in rows if (files / row[0]).exists()})
    assert [r.file for r in results] == [row[0] for row in rows]
    assert summarize(results) == {MATCH: len(rows), MISMATCH: 0, MISSING: 0, INVALID: 0}, \
        [r.to_dict() for r in results if r.status != MATCH]
    for result, row in zip(results, rows):
        assert result.expected == tuple(row[2:]) == result.actual
        assert result.expected_md5 == result.actual_md5


@pytest.mark.parametrize("name", ["putty-0.68-installer.msi", "msi_with_external_cab.msi"])
def test_corpus_one_modified_byte_mismatches(tmp_path, name):
    package = corpus_file(name)
    rows = _msifilehash_rows(package)
    files = _payload(package, tmp_path)
    victim = next(row[0] for row in rows if (files / row[0]).stat().st_size > 0)
    data = bytearray((files / victim).read_bytes())
    data[len(data) // 2] ^= 0x20
    contents = {row[0]: (bytes(data) if row[0] == victim else files / row[0]) for row in rows}
    results = {r.file: r for r in check_file_hashes(rows, contents)}
    assert results[victim].status == MISMATCH
    assert results[victim].actual_md5 != results[victim].expected_md5
    assert all(r.status == MATCH for key, r in results.items() if key != victim)


def test_rows_from_our_table_reader_agree_with_msiinfo(tmp_path):
    """check_file_hashes takes our Table (records) as well; same verdicts as with msiinfo's rows."""
    from msitools import open_package

    package = corpus_file("putty-0.68-installer.msi")
    files = _payload(package, tmp_path)
    with open_package(package) as pkg:
        table = pkg.table("MsiFileHash")
        ours = check_file_hashes(table, lambda key: files / key)
        tuples = check_file_hashes(list(table), lambda key: files / key)
    theirs = check_file_hashes(_msifilehash_rows(package), lambda key: files / key)
    assert [r.to_dict() for r in ours] == [r.to_dict() for r in theirs] == [r.to_dict() for r in tuples]


# --------------------------------------------------------------------------- row handling

def test_missing_invalid_and_options():
    abc = tuple(_signed(v) for v in WINE_VECTORS[1][1])
    rows = [
        {"File_": "a", "Options": 0, "HashPart1": abc[0], "HashPart2": abc[1], "HashPart3": abc[2],
         "HashPart4": abc[3]},
        ("gone", 0, *abc),
        ("null", 0, None, 1, 2, 3),
        ("opt", 1, *abc),
        ("empty", 0, 0, 0, 0, 0),
        ("unsigned", 0, *(v & 0xFFFFFFFF for v in abc)),
    ]
    results = check_file_hashes(rows, {"a": b"abc", "null": b"x", "opt": b"abc", "empty": b"", "unsigned": b"abc"})
    status = {r.file: r.status for r in results}
    assert status == {"a": MATCH, "gone": MISSING, "null": INVALID, "opt": MATCH, "empty": MATCH,
                      "unsigned": MATCH}
    notes = {r.file: r.note for r in results}
    assert "reserved" in notes["opt"] and notes["a"] == ""
    assert results[4].expected_md5 == "0" * 32
    assert summarize(results) == {MATCH: 4, MISMATCH: 0, MISSING: 1, INVALID: 1}
    with pytest.raises(UsageError):
        check_file_hashes([("short", 0, 1)], {})


def test_unreadable_path_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError) as info:
        file_hash_parts(tmp_path / "does-not-exist")
    assert "\n" not in str(info.value)
