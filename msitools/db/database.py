"""An MSI database stored in one storage: string pool, _Tables, _Columns, tables, streams.

The same structure is the root of an .msi/.msm and of an .msp (whose own
database holds MsiPatchMetadata/MsiPatchSequence).  Tables are decoded lazily,
on first use; listing tables and counting rows reads only the schema.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial

from msitools.container.cfb import CompoundFile, Entry
from msitools.container.streamname import decode_stream_name, encode_stream_name
from msitools.db.columns import Column, type_word_from_idt
from msitools.db.stringpool import StringPool
from msitools.db.table import Table, decode_columns
from msitools.errors import StringPoolError, TableError, UsageError
from msitools.limits import DEFAULT_LIMITS, Limits

TABLES_SCHEMA = [Column("Name", type_word_from_idt("s64", key=True), 1)]
COLUMNS_SCHEMA = [
    Column("Table", type_word_from_idt("s64", key=True), 1),
    Column("Number", type_word_from_idt("i2", key=True), 2),
    Column("Name", type_word_from_idt("s64"), 3),
    Column("Type", type_word_from_idt("i2"), 4),
]
SYSTEM_STREAMS = ("_StringPool", "_StringData")


@dataclass
class StreamInfo:
    """A non-table stream of a storage, by its decoded name."""

    name: str
    size: int
    entry: Entry


def classify_children(storage: Entry) -> tuple[dict[str, Entry], list[StreamInfo], list[Entry]]:
    """Split a storage's children into table streams, other streams and substorages."""
    tables: dict[str, Entry] = {}
    streams: list[StreamInfo] = []
    storages: list[Entry] = []
    for child in storage.children:
        if child.is_storage:
            storages.append(child)
        elif child.is_stream:
            name, is_table = decode_stream_name(child.name)
            if is_table:
                tables.setdefault(name, child)
            else:
                streams.append(StreamInfo(name, child.size, child))
    return tables, streams, storages


class Database:
    """The tables and streams of one storage of a compound file."""

    def __init__(self, cfb: CompoundFile, storage: Entry, path=None, limits: Limits = DEFAULT_LIMITS,
                 where: str = ""):
        self.cfb = cfb
        self.storage = storage
        self.path = path if path is not None else cfb.name
        self.limits = limits
        self.where = where
        self.table_streams, self.streams, self.storages = classify_children(storage)
        self.pool = self._load_pool()
        self._schemas = self._load_schema()
        self._tables: dict[str, Table] = {}

    # -- loading ----------------------------------------------------------
    def _read(self, entry: Entry) -> bytes:
        return self.cfb.read_stream(entry)

    def _load_pool(self) -> StringPool:
        pool = self.table_streams.get("_StringPool")
        data = self.table_streams.get("_StringData")
        prefix = f"{self.where}: " if self.where else ""
        if pool is None:
            raise StringPoolError(f"{prefix}missing string pool (no _StringPool stream)", self.path)
        if data is None:
            if pool.size > 4:
                raise StringPoolError(f"{prefix}missing _StringData stream", self.path)
            data_bytes = b""
        else:
            data_bytes = self._read(data)
        return StringPool.parse(self._read(pool), data_bytes, self.path, self.limits, self.where)

    def _decode_system(self, name: str, schema) -> list:
        entry = self.table_streams.get(name)
        if entry is None:
            return []
        raw = self._read(entry)
        cols = decode_columns(name, schema, raw, self.pool, self.path, self.limits, shared_strings=False)
        return list(zip(*cols))

    def _load_schema(self) -> dict[str, list[Column]]:
        prefix = f"{self.where}: " if self.where else ""
        if "_Tables" not in self.table_streams:
            raise TableError(f"{prefix}missing _Tables stream (not an MSI database)", self.path)
        names = [row[0] for row in self._decode_system("_Tables", TABLES_SCHEMA)]
        self.limits.check("tables", len(names), "_Tables", self.path)
        if any(n is None for n in names):
            raise TableError(f"{prefix}_Tables holds a NULL table name", self.path)
        columns: dict[str, list[tuple[int, Column]]] = {}
        for table, number, name, type_word in self._decode_system("_Columns", COLUMNS_SCHEMA):
            if table is None or name is None or type_word is None:
                raise TableError(f"{prefix}_Columns has a row with a NULL table, name or type", self.path)
            columns.setdefault(table, []).append((number or 0, Column(name, type_word & 0xFFFF, number or 0)))
        schemas: dict[str, list[Column]] = {}
        for table in names:
            cols = sorted(columns.get(table, []), key=lambda item: item[0])
            if not cols:
                raise TableError(f"{prefix}table {table!r} is listed in _Tables but has no columns in _Columns",
                                 self.path)
            self.limits.check("table_columns", len(cols), f"table {table!r}", self.path)
            numbers = [n for n, _ in cols]
            if numbers != list(range(1, len(cols) + 1)):
                raise TableError(f"{prefix}table {table!r}: column numbers {numbers} are not 1..{len(cols)}",
                                 self.path)
            schemas[table] = [c for _, c in cols]
        self.orphan_columns = sorted(set(columns) - set(names))
        return schemas

    # -- tables -----------------------------------------------------------
    @property
    def table_names(self) -> list[str]:
        """Tables named in _Tables, in stored order."""
        return list(self._schemas)

    def has_table(self, name: str) -> bool:
        return name in self._schemas

    def schema(self, name: str) -> list[Column]:
        if name == "_Tables":
            return list(TABLES_SCHEMA)
        if name == "_Columns":
            return list(COLUMNS_SCHEMA)
        try:
            return self._schemas[name]
        except KeyError:
            raise UsageError(f"no table named {name!r}", self.path) from None

    def table(self, name: str) -> Table:
        """The table *name* (schema from _Columns; rows decoded on first use)."""
        table = self._tables.get(name)
        if table is None:
            columns = self.schema(name)
            entry = self.table_streams.get(name)
            loader: Callable[[], bytes] = partial(self._read, entry) if entry is not None else (lambda: b"")
            table = Table(name, columns, loader, self.pool, self.path, self.limits,
                          stream_size=entry.size if entry is not None else 0)
            self._tables[name] = table
        return table

    def get_table(self, name: str) -> Table | None:
        return self.table(name) if self.has_table(name) else None

    def tables(self) -> Iterator[Table]:
        for name in self.table_names:
            yield self.table(name)

    def validation(self) -> dict[tuple[str | None, str | None], dict]:
        """``_Validation`` rows by (table, column): nullable, ranges, key table, category, set, description.

        Empty when the package has no ``_Validation`` table (it is optional).  A key part is None
        when a malformed table leaves it NULL or lacks the column."""
        table = self.get_table("_Validation")
        if table is None:
            return {}
        return {(r.get("Table"), r.get("Column")): r for r in table.records()}

    # -- streams ----------------------------------------------------------
    def find_stream(self, name: str) -> StreamInfo | None:
        for info in self.streams:
            if info.name == name:
                return info
        return None

    def stream_entry(self, name: str) -> Entry | None:
        info = self.find_stream(name)
        if info is not None:
            return info.entry
        # also accept a table-encoded name or a raw directory name
        for child in self.storage.children:
            if child.is_stream and child.name in (name, encode_stream_name(name, False)):
                return child
        return None

    def read_stream(self, name: str) -> bytes:
        entry = self.stream_entry(name)
        if entry is None:
            raise UsageError(f"no stream named {name!r}", self.path)
        return self._read(entry)

    def open_stream(self, name: str):
        entry = self.stream_entry(name)
        if entry is None:
            raise UsageError(f"no stream named {name!r}", self.path)
        return self.cfb.open_stream(entry)

    def binary(self, table: str, *keys) -> bytes | None:
        """Data of a binary cell, by its table and primary key values."""
        from msitools.db.table import binary_stream_name

        entry = self.stream_entry(binary_stream_name(table, keys))
        return self._read(entry) if entry is not None else None
