"""Database tables: schema plus column-major row storage, decoded lazily.

A table stream holds all cells of column 1, then all of column 2, ... (FORMATS
§1.4).  Cell widths: i2 = 2, i4 = 4, strings = 2 or 3 (pool long-refs bit),
binary = 2.  Integers are stored biased (i2 + 0x8000, i4 ^ 0x80000000) so that
a stored 0 is NULL.  Binary cells only say present/absent; the data lives in a
stream named ``Table.key1.key2`` (built from the primary key values).
"""
from __future__ import annotations

import sys
from array import array
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from msitools.db.columns import Column
from msitools.db.stringpool import StringPool
from msitools.errors import TableError
from msitools.limits import DEFAULT_LIMITS, Limits

Row = tuple


def binary_stream_name(table: str, key_values: Sequence[Any]) -> str:
    """Logical name of the stream holding a row's binary cell: ``Table.key1.key2``."""
    return ".".join([table] + ["" if v is None else str(v) for v in key_values])


def row_width(columns: Sequence[Column], ref_size: int) -> int:
    return sum(c.cell_size(ref_size) for c in columns)


def _unsigned(raw: bytes, itemsize: int) -> array:
    arr = array("H" if itemsize == 2 else "I")
    if arr.itemsize != itemsize:  # pragma: no cover - 'I' is 4 bytes on every supported platform
        arr = array("L")
    arr.frombytes(raw)
    if sys.byteorder == "big":  # pragma: no cover
        arr.byteswap()
    return arr


def _three_byte_refs(chunk) -> array:
    """Long string references: 3 little-endian bytes per cell, kept together (as Wine stores them)."""
    n = len(chunk) // 3
    wide = bytearray(4 * n)
    wide[0::4] = chunk[0::3]
    wide[1::4] = chunk[1::3]
    wide[2::4] = chunk[2::3]
    return _unsigned(bytes(wide), 4)


def count_rows(name: str, columns: Sequence[Column], raw_size: int, ref_size: int, path=None,
               limits: Limits = DEFAULT_LIMITS) -> int:
    """Rows in a table stream of *raw_size* bytes; raises if the size is not a whole number of rows."""
    width = row_width(columns, ref_size)
    if width == 0:
        raise TableError(f"table {name!r} has no columns", path)
    if raw_size % width:
        raise TableError(
            f"table {name!r}: stream length {raw_size} is not a multiple of the row width {width}", path)
    nrows = raw_size // width
    limits.check("table_rows", nrows, f"table {name!r}", path)
    return nrows


def decode_columns(name: str, columns: Sequence[Column], raw: bytes, pool: StringPool,
                   path=None, limits: Limits = DEFAULT_LIMITS,
                   first: int = 0, last: int | None = None, shared_strings: bool = True) -> list[list[Any]]:
    """Decode a column-major table stream into one list of values per column.

    *first*/*last* select a range of rows (for decoding a large table in chunks);
    ``shared_strings=False`` keeps the string pool unmaterialised (streaming use).
    """
    ref_size = pool.ref_size
    total = count_rows(name, columns, len(raw), ref_size, path, limits)
    last = total if last is None else min(last, total)
    nrows = max(0, last - first)
    nstrings = len(pool)
    out: list[list[Any]] = []
    offset = 0
    mv = memoryview(raw)
    for column in columns:
        size = column.cell_size(ref_size)
        chunk = mv[offset + size * first:offset + size * last]
        offset += size * total
        if column.is_string:
            ids = _unsigned(bytes(chunk), 2) if size == 2 else _three_byte_refs(chunk)
            if ids and max(ids) >= nstrings:
                bad = next(i for i, v in enumerate(ids) if v >= nstrings)
                raise TableError(
                    f"table {name!r} column {column.name!r} row {first + bad + 1}: string id {ids[bad]} "
                    f"is out of range (pool has {nstrings - 1} strings)", path)
            values = pool.values(ids, shared_strings)
        elif column.is_binary:
            values = list(_unsigned(bytes(chunk), 2))  # resolved to stream names below
        elif size == 2:
            values = [v - 0x8000 if v else None for v in _unsigned(bytes(chunk), 2)]
        else:
            values = [v - 0x80000000 if v else None for v in _unsigned(bytes(chunk), 4)]
        out.append(values)
    if any(c.is_binary for c in columns):
        key_indexes = [i for i, c in enumerate(columns) if c.key]
        for ci, column in enumerate(columns):
            if not column.is_binary:
                continue
            cells = out[ci]
            for r in range(nrows):
                cells[r] = binary_stream_name(name, [out[k][r] for k in key_indexes]) if cells[r] else None
    return out


class Table:
    """A table of a database: its schema and (lazily decoded) rows.

    ``rows`` is a list of tuples in stored order; ``records()`` gives dicts.
    """

    def __init__(self, name: str, columns: Sequence[Column], loader: Callable[[], bytes | None],
                 pool: StringPool, path=None, limits: Limits = DEFAULT_LIMITS,
                 stream_size: int | None = None):
        self.name = name
        self.columns = list(columns)
        self._loader = loader
        self._pool = pool
        self._path = path
        self._limits = limits
        self._rows: list[Row] | None = None
        self._stream_size = stream_size

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def key_columns(self) -> list[Column]:
        return [c for c in self.columns if c.key]

    @property
    def row_count(self) -> int:
        """Number of rows, without decoding them when the stream size is known."""
        if self._rows is None and self._stream_size is not None:
            width = row_width(self.columns, self._pool.ref_size)
            if width and self._stream_size % width == 0:
                return self._stream_size // width
        return len(self.rows)

    @property
    def rows(self) -> list[Row]:
        if self._rows is None:
            raw = self._loader()
            if not raw:
                self._rows = []
            else:
                cols = decode_columns(self.name, self.columns, raw, self._pool, self._path, self._limits)
                self._rows = list(zip(*cols))
        return self._rows

    def iter_chunks(self, chunk_rows: int = 4096) -> Iterator[list[Row]]:
        """Rows in chunks, decoded on the fly without caching them (bounded memory)."""
        if self._rows is not None:
            for i in range(0, len(self._rows), chunk_rows):
                yield self._rows[i:i + chunk_rows]
            return
        raw = self._loader()
        if not raw:
            return
        total = count_rows(self.name, self.columns, len(raw), self._pool.ref_size, self._path, self._limits)
        for first in range(0, total, chunk_rows):
            cols = decode_columns(self.name, self.columns, raw, self._pool, self._path, self._limits,
                                  first, first + chunk_rows, shared_strings=False)
            yield list(zip(*cols))

    def __iter__(self) -> Iterator[Row]:
        return iter(self.rows)

    def __len__(self) -> int:
        return self.row_count

    def records(self) -> list[dict[str, Any]]:
        names = self.column_names
        return [dict(zip(names, row)) for row in self.rows]

    def key_of(self, row: Row) -> tuple:
        return tuple(v for c, v in zip(self.columns, row) if c.key)

    def index(self) -> dict[tuple, Row]:
        """Rows by primary key."""
        return {self.key_of(row): row for row in self.rows}

    def column_index(self, name: str) -> int:
        for i, c in enumerate(self.columns):
            if c.name == name:
                return i
        raise KeyError(name)

    def __repr__(self) -> str:
        return f"<Table {self.name} {len(self.columns)} columns>"
