"""MsiFileHash: the MD5 that Windows Installer records for unversioned files (FORMATS §8.3).

The table ``MsiFileHash(File_, Options, HashPart1, HashPart2, HashPart3, HashPart4)``
holds the MD5 of a file's **entire content** (no normalisation), its 16 bytes
split into four 32-bit **little-endian** words, stored as signed ``i4`` cells.
``Options`` is reserved and must be 0.  An **empty file** is recorded as four
zeros, not as the MD5 of empty input: Wine's ``msi_get_filehash`` says so
("Empty file -> set hash to 0") and Wine's conformance test
``test_MsiGetFileHash`` (dlls/msi/tests/msi.c), which also runs on Windows,
expects ``{0, 0, 0, 0}`` for an empty file next to ``"abc"`` ->
``{0x98500190, 0xb04fd23c, 0x7d3f96d6, 0x727fe128}``.

Contents may be given as bytes, a path, or an iterable of byte chunks (a
cabinet member being decompressed), so no file has to be held in memory.
"""
from __future__ import annotations

import hashlib
import os
import struct
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Union

from msitools.base.fsutil import read_file_chunks
from msitools.errors import UsageError

__all__ = [
    "INVALID",
    "MATCH",
    "MISMATCH",
    "MISSING",
    "FileHashResult",
    "HashParts",
    "check_file_hashes",
    "file_hash_parts",
    "md5_from_parts",
    "parts_from_md5",
    "summarize",
]

HashParts = tuple[int, int, int, int]
Content = Union[bytes, bytearray, memoryview, str, "os.PathLike[str]", Iterable[bytes], None]

MATCH = "match"
MISMATCH = "mismatch"
MISSING = "missing"  # no content was supplied for the row's file
INVALID = "invalid"  # the row itself is unusable (NULL or non-integer hash parts)

_ZERO = (0, 0, 0, 0)


def parts_from_md5(digest: bytes) -> tuple[int, int, int, int]:
    """The four signed HashPart values of a 16-byte MD5 digest."""
    if len(digest) != 16:
        raise UsageError(f"an MD5 digest is 16 bytes, got {len(digest)}")
    return struct.unpack("<4i", digest)


def md5_from_parts(parts: Iterable[int]) -> bytes:
    """The 16 digest bytes behind four HashPart values (signed or unsigned 32-bit)."""
    values = [int(v) for v in parts]
    if len(values) != 4 or any(not -(1 << 31) <= v < (1 << 32) for v in values):
        raise UsageError(f"MsiFileHash needs four 32-bit parts, got {values!r}")
    return struct.pack("<4I", *(v & 0xFFFFFFFF for v in values))


def _chunks(content: Content) -> Iterable[bytes]:
    if isinstance(content, (bytes, bytearray, memoryview)):
        yield bytes(content)
    elif isinstance(content, (str, os.PathLike)):
        try:
            yield from read_file_chunks(content)
        except OSError as exc:
            raise UsageError(f"cannot read file: {exc.strerror or exc}", content) from None
    elif content is not None:
        yield from content  # an iterable of byte chunks


def file_hash_parts(content: Content) -> tuple[int, int, int, int]:
    """HashPart1..4 of *content* as Windows Installer records them (zeros for an empty file)."""
    md5 = hashlib.md5()
    length = 0
    for chunk in _chunks(content):
        md5.update(chunk)
        length += len(chunk)
    return _ZERO if length == 0 else parts_from_md5(md5.digest())


@dataclass(frozen=True)
class FileHashResult:
    """The verdict for one MsiFileHash row."""

    file: str  # the File_ key
    status: str  # MATCH, MISMATCH, MISSING or INVALID
    expected: tuple[int, int, int, int] | None  # HashPart1..4 from the row
    actual: tuple[int, int, int, int] | None  # from the content, when supplied
    options: Any = 0
    note: str = ""

    @property
    def expected_md5(self) -> str | None:
        return _md5_hex(self.expected)

    @property
    def actual_md5(self) -> str | None:
        return _md5_hex(self.actual)

    def to_dict(self) -> dict:
        return {"file": self.file, "status": self.status,
                "expected": list(self.expected) if self.expected is not None else None,
                "actual": list(self.actual) if self.actual is not None else None,
                "expected_md5": self.expected_md5, "actual_md5": self.actual_md5,
                "options": self.options, "note": self.note}


def _md5_hex(parts) -> str | None:
    if parts is None:
        return None
    if tuple(parts) == _ZERO:
        return "0" * 32  # an empty file (Windows records zeros, not the MD5 of nothing)
    return md5_from_parts(parts).hex()


_COLUMNS = ("File_", "Options", "HashPart1", "HashPart2", "HashPart3", "HashPart4")


def _row_fields(row) -> tuple:
    """(file, options, [p1..p4]) from a records() dict, a table tuple or an object with attributes."""
    if isinstance(row, Mapping):
        return tuple(row.get(name) for name in _COLUMNS)
    if isinstance(row, (tuple, list)):
        if len(row) != 6:
            raise UsageError(f"an MsiFileHash row has 6 cells, got {len(row)}")
        return tuple(row)
    return tuple(getattr(row, name, None) for name in _COLUMNS)


def _rows(rows) -> Iterable:
    records = getattr(rows, "records", None)
    if callable(records):  # an msitools Table
        return records()
    return rows


def check_file_hashes(rows, contents: Mapping[str, Content] | Callable[[str], Content]) -> list[FileHashResult]:
    """Compare MsiFileHash rows with file contents.

    *rows*: the ``MsiFileHash`` table (an msitools ``Table``), its ``records()``
    dicts, or its row tuples ``(File_, Options, HashPart1..4)``.  *contents*: a
    mapping (or a function) from File key to the file's bytes, a path, an
    iterable of byte chunks, or ``None`` when the file is not available.  One
    result per row, in row order.
    """
    lookup = contents if callable(contents) else (lambda key: contents.get(key))
    results = []
    for row in _rows(rows):
        file, options, *parts = _row_fields(row)
        file = "" if file is None else str(file)
        note = "" if options in (0, None) else f"Options is {options!r}; it is reserved and must be 0"
        if not all(isinstance(p, int) and not isinstance(p, bool) for p in parts):
            results.append(FileHashResult(file, INVALID, None, None, options,
                                          _join(note, f"hash parts are not four integers: {parts!r}")))
            continue
        expected = tuple(parts)
        try:
            md5_from_parts(expected)
        except UsageError as exc:
            results.append(FileHashResult(file, INVALID, None, None, options, _join(note, exc.message)))
            continue
        content = lookup(file)
        if content is None:
            results.append(FileHashResult(file, MISSING, expected, None, options,
                                          _join(note, "no content supplied for this file")))
            continue
        actual = file_hash_parts(content)
        signed_expected = parts_from_md5(md5_from_parts(expected))
        status = MATCH if actual == signed_expected else MISMATCH
        results.append(FileHashResult(file, status, signed_expected, actual, options, note))
    return results


def _join(*parts: str) -> str:
    return "; ".join(p for p in parts if p)


def summarize(results: Iterable[FileHashResult]) -> dict[str, int]:
    """Counts per status: ``{"match": n, "mismatch": n, "missing": n, "invalid": n}``."""
    counts = {MATCH: 0, MISMATCH: 0, MISSING: 0, INVALID: 0}
    for result in results:
        counts[result.status] += 1
    return counts
