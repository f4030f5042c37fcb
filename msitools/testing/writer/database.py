"""MSI database model and writer (FORMATS §1): tables, string pool, streams, storages.

A :class:`DatabaseBuilder` holds a schema-plus-rows model of every table
(:class:`TableModel`, rows keyed by their primary-key values), extra streams,
substorages and the summary information.  :meth:`DatabaseBuilder.build`
serialises it into a compound file:

* ``_StringPool``/``_StringData`` via :class:`~.stringpool.StringPoolWriter`;
* ``_Tables`` and ``_Columns`` (built-in schemas, not described in ``_Columns``);
* one column-major stream per non-empty table, rows sorted by their raw key
  cells (string ids, i2 + 0x8000, i4 ^ 0x80000000), as Wine/Windows keep them;
* binary cells as streams named ``Table.key1.key2`` (cell value 1);
* optional ``_Validation`` rows, extra streams, substorages, summary information.

The model is meant to be diffed: a transform writer can compare two builders
table by table (``builder.tables[name].rows`` maps key tuples to row tuples).
"""
from __future__ import annotations

import copy
import struct
import sys
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Union

from msitools.container import cfb_writer as cfb
from msitools.container.streamname import encode_stream_name
from msitools.db.columns import KIND_BINARY, KIND_INT, KIND_STRING, Column, type_word_from_idt
from msitools.errors import DatabaseError, TableError
from msitools.testing.writer.stringpool import StringPoolWriter
from msitools.testing.writer.summary import STREAM_NAME as SUMMARY_STREAM
from msitools.testing.writer.summary import SummaryInfo

CLSID_MSI = "{000C1084-0000-0000-C000-000000000046}"
CLSID_MSP = "{000C1086-0000-0000-C000-000000000046}"
CLSID_MST = "{000C1082-0000-0000-C000-000000000046}"
KIND_CLSIDS = {"msi": CLSID_MSI, "msm": CLSID_MSI, "msp": CLSID_MSP, "mst": CLSID_MST}

TABLES_TABLE = "_Tables"
COLUMNS_TABLE = "_Columns"
VALIDATION_TABLE = "_Validation"
MAX_COLUMNS = 32
MAX_STREAM_NAME_UNITS = 31

# _Tables / _Columns built-in schemas (wine table.c _Tables_cols / _Columns_cols)
TABLES_COLUMNS = (Column("Name", type_word_from_idt("s64", key=True), 1),)
COLUMNS_COLUMNS = (
    Column("Table", type_word_from_idt("s64", key=True), 1),
    Column("Number", type_word_from_idt("i2", key=True), 2),
    Column("Name", type_word_from_idt("s64"), 3),
    Column("Type", type_word_from_idt("i2"), 4),
)
# _Validation schema (rust-msi make_validation_columns; same IDT types as real packages)
VALIDATION_SPEC = (
    ("Table", "s32", True), ("Column", "s32", True), ("Nullable", "s4", False),
    ("MinValue", "I4", False), ("MaxValue", "I4", False), ("KeyTable", "S255", False),
    ("KeyColumn", "I2", False), ("Category", "S32", False), ("Set", "S255", False),
    ("Description", "S255", False),
)

Value = Union[str, int, bytes, None]  # noqa: UP007 (a runtime alias: "|" needs Python 3.10 classes on both sides)
ColumnSpec = Union[Column, Sequence[Any]]  # noqa: UP007 (a runtime alias: "|" needs Python 3.10 classes on both sides)


def make_column(spec: ColumnSpec, number: int) -> Column:
    """A numbered :class:`Column` from ``("Name", "s72", key)``, ``("Name", 0x2D48)`` or a Column.

    The type may be IDT notation (s72, S255, l0, i2, I4, v0...) or a raw type word.
    """
    if isinstance(spec, Column):
        return Column(spec.name, spec.type_word, number)
    if not 2 <= len(spec) <= 3:
        raise TableError(f"column spec {spec!r} is not (name, type[, key])")
    name, type_spec = spec[0], spec[1]
    key = bool(spec[2]) if len(spec) == 3 else False
    if not isinstance(name, str) or not name:
        raise TableError(f"column name {name!r} is not a non-empty string")
    if isinstance(type_spec, int):
        word = type_spec | (0x2000 if key else 0)
    else:
        try:
            word = type_word_from_idt(type_spec, key=key)
        except (ValueError, IndexError, TypeError) as exc:
            raise TableError(f"column {name!r}: bad IDT type {type_spec!r}") from exc
    if not 0 <= word <= 0xFFFF:
        raise TableError(f"column {name!r}: type word {word:#x} does not fit 16 bits")
    return Column(name, word, number)


def format_key_for_stream(value: Value) -> str:
    """A key cell as it appears in a binary stream name (Wine get_stream_name)."""
    if value is None:
        return ""
    if isinstance(value, int):
        return str(value)
    return value if isinstance(value, str) else ""


def binary_stream_name(table: str, keys: Sequence[Value]) -> str:
    """Logical name of the stream holding a binary cell: ``Table.key1.key2``."""
    return ".".join([table, *(format_key_for_stream(k) for k in keys)])


@dataclass
class TableModel:
    """One table: schema and rows.  ``rows`` maps the key tuple to the full row tuple."""

    name: str
    columns: list[Column]
    rows: dict[tuple, tuple] = field(default_factory=dict)

    def values_in_order(self, values: Sequence[Value], error=TableError, what: str = "") -> tuple:
        """Row values in column order, from a sequence or from one dict keyed by column name."""
        if len(values) == 1 and isinstance(values[0], dict):
            given = values[0]
            unknown = set(given) - {c.name for c in self.columns}
            if unknown:
                raise error(f"{what}table {self.name!r} has no column(s) {sorted(unknown)}")
            return tuple(given.get(c.name) for c in self.columns)
        return tuple(values)

    @property
    def key_indexes(self) -> list[int]:
        return [i for i, c in enumerate(self.columns) if c.key]

    def column_index(self, name: str) -> int:
        for i, c in enumerate(self.columns):
            if c.name == name:
                return i
        raise TableError(f"table {self.name!r} has no column {name!r}")

    def key_of(self, row: Sequence[Value]) -> tuple:
        keys = self.key_indexes
        if not keys:  # a table without a key: the whole row identifies it
            return tuple(row)
        return tuple(row[i] for i in keys)

    def normalise(self, values: Sequence[Value], strict: bool = True) -> tuple:
        """Check one row against the schema; "" becomes NULL in string columns."""
        if len(values) != len(self.columns):
            raise TableError(f"table {self.name!r}: {len(values)} values for {len(self.columns)} columns")
        out = []
        for col, value in zip(self.columns, values):
            kind = col.kind
            if kind == KIND_STRING:
                if value == "":
                    value = None
                if value is not None and not isinstance(value, str):
                    raise TableError(f"{self.name}.{col.name}: string column given {value!r}")
            elif kind == KIND_BINARY:
                if isinstance(value, bytearray):
                    value = bytes(value)
                if value is not None and not isinstance(value, bytes):
                    raise TableError(f"{self.name}.{col.name}: binary column given {type(value).__name__}")
            else:
                if value is not None:
                    if isinstance(value, bool) or not isinstance(value, int):
                        raise TableError(f"{self.name}.{col.name}: integer column given {value!r}")
                    limit = 0x7FFFFFFF if col.width == 4 else 0x7FFF
                    if not -limit <= value <= limit:
                        raise TableError(f"{self.name}.{col.name}: {value} is out of range "
                                         f"for a {col.idt_type} column")
            if strict and value is None and not col.nullable:
                raise TableError(f"{self.name}.{col.name} is not nullable")
            out.append(value)
        return tuple(out)

    def add_row(self, values: Sequence[Value], strict: bool = True) -> tuple:
        row = self.normalise(values, strict)
        key = self.key_of(row)
        if key in self.rows:
            raise TableError(f"table {self.name!r} already has a row with key {key!r}")
        self.rows[key] = row
        return key


@dataclass
class _StorageSpec:
    name: str
    source: Any
    clsid: Any
    state_bits: int = 0
    created: int = 0
    modified: int = 0


class DatabaseBuilder:
    """An MSI database in memory; :meth:`build` turns it into package bytes.

    ``strict=False`` lets fixtures store NULL in NOT NULL columns.  ``force_long_refs``
    writes 3-byte string references even for small pools.  ``empty_table_streams``
    writes a zero-length stream for tables without rows (Wine's save_table does;
    by default they get no stream, which every reader treats as an empty table).
    """

    def __init__(self, codepage: int = 1252, *, strict: bool = True, force_long_refs: bool = False,
                 long_string_layout: str = "wine", empty_table_streams: bool = False):
        self.codepage = codepage
        self.strict = strict
        self.force_long_refs = force_long_refs
        self.long_string_layout = long_string_layout
        self.empty_table_streams = empty_table_streams
        self.tables: dict[str, TableModel] = {}
        self.streams: dict[str, bytes] = {}        # CFB entry name -> data
        self.storages: dict[str, _StorageSpec] = {}
        self.summary: SummaryInfo | None = SummaryInfo(codepage=codepage or 1252)
        self.validation = False
        self.validation_rows: dict[tuple, tuple] = {}

    # schema and rows ----------------------------------------------------------------------------
    def add_table(self, name: str, columns: Iterable[ColumnSpec]) -> TableModel:
        """Declare a table.  ``columns`` = ``[("File", "s72", True), ("FileSize", "i4"), ...]``."""
        if not isinstance(name, str) or not name:
            raise TableError(f"table name {name!r} is not a non-empty string")
        if name in self.tables or name in (TABLES_TABLE, COLUMNS_TABLE):
            raise TableError(f"table {name!r} already exists")
        cols = [make_column(spec, i + 1) for i, spec in enumerate(columns)]
        if not cols:
            raise TableError(f"table {name!r} has no columns")
        if len(cols) > MAX_COLUMNS and self.strict:
            raise TableError(f"table {name!r} has {len(cols)} columns (at most {MAX_COLUMNS})")
        names = [c.name for c in cols]
        if len(set(names)) != len(names):
            raise TableError(f"table {name!r} has duplicate column names")
        if cfb.name_units(encode_stream_name(name, True)) > MAX_STREAM_NAME_UNITS:
            raise TableError(f"table name {name!r} is too long for a stream name")
        table = TableModel(name, cols)
        self.tables[name] = table
        return table

    def table(self, name: str) -> TableModel:
        try:
            return self.tables[name]
        except KeyError:
            raise TableError(f"no table {name!r}") from None

    def add_row(self, table: str, *values: Value) -> tuple:
        """Add one row; values in column order (or one dict keyed by column name).

        Strings are str, integers int, binary cells bytes, NULL is None ("" is NULL too).
        Returns the row's key tuple.
        """
        model = self.table(table)
        return model.add_row(model.values_in_order(values), self.strict)

    def add_rows(self, table: str, rows: Iterable[Sequence[Value]]) -> None:
        model = self.table(table)
        for row in rows:
            model.add_row(row, self.strict)

    def remove_row(self, table: str, *key: Value) -> tuple:
        model = self.table(table)
        try:
            return model.rows.pop(tuple(key))
        except KeyError:
            raise TableError(f"table {table!r} has no row with key {tuple(key)!r}") from None

    def set_cell(self, table: str, key: Sequence[Value], column: str, value: Value) -> None:
        """Change one non-key cell of an existing row."""
        model = self.table(table)
        key = tuple(key)
        if key not in model.rows:
            raise TableError(f"table {table!r} has no row with key {key!r}")
        index = model.column_index(column)
        if model.columns[index].key:
            raise TableError(f"{table}.{column} is a key column; remove and re-add the row")
        row = list(model.rows[key])
        row[index] = value
        model.rows[key] = model.normalise(row, self.strict)

    def drop_table(self, name: str) -> None:
        self.table(name)
        del self.tables[name]

    # validation ---------------------------------------------------------------------------------
    def enable_validation(self) -> None:
        """Write a ``_Validation`` table; rows not given with :meth:`add_validation` are
        generated from the schema (Nullable Y/N, Category Identifier/Text/Binary...)."""
        self.validation = True

    def add_validation(self, table: str, column: str, nullable: str | bool = "N", *,
                       min_value: int | None = None, max_value: int | None = None,
                       key_table: str | None = None, key_column: int | None = None,
                       category: str | None = None, set_: str | None = None,
                       description: str | None = None) -> None:
        self.validation = True
        if isinstance(nullable, bool):
            nullable = "Y" if nullable else "N"
        self.validation_rows[(table, column)] = (table, column, nullable, min_value, max_value,
                                                 key_table, key_column, category, set_, description)

    def _validation_table(self) -> TableModel:
        model = TableModel(VALIDATION_TABLE, [make_column(s, i + 1) for i, s in enumerate(VALIDATION_SPEC)])
        described = list(self.tables.values()) + [model]
        for table in described:
            for col in table.columns:
                row = self.validation_rows.get((table.name, col.name))
                if row is None:
                    if col.kind == KIND_BINARY:
                        category = "Binary"
                    elif col.kind == KIND_STRING:
                        category = "Identifier" if col.key else "Text"
                    else:
                        category = None
                    row = (table.name, col.name, "Y" if col.nullable else "N", None, None, None,
                           None, category, None, None)
                model.add_row(row, strict=True)
        for key, row in self.validation_rows.items():
            if key not in model.rows:  # rows about columns that do not exist: keep them
                model.add_row(row, strict=True)
        return model

    # streams and storages -----------------------------------------------------------------------
    def add_stream(self, name: str, data: bytes, *, raw: bool = False) -> str:
        """Add a non-table stream to the root (e.g. an embedded cabinet ``#name`` -> ``name``).

        The name is encoded as an MSI stream name unless *raw* is set or it starts with
        U+0005 (``\\x05DigitalSignature``...).  Returns the CFB entry name.
        """
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise DatabaseError(f"stream {name!r}: data must be bytes, got {type(data).__name__}")
        if not isinstance(name, str) or not name:
            raise DatabaseError(f"stream name {name!r} is not a non-empty string")
        entry = name if raw or name.startswith("\x05") else encode_stream_name(name, False)
        cfb.validate_name(entry)
        if entry in self.streams:
            raise DatabaseError(f"stream {name!r} already exists")
        self.streams[entry] = bytes(data)
        return entry

    def add_storage(self, name: str, clsid: cfb.ClsidLike, source: Any, *,
                    state_bits: int = 0, created: int = 0, modified: int = 0) -> None:
        """Add a substorage (e.g. a transform inside an .msp).

        *clsid* may be None: a :class:`DatabaseBuilder` source then gets the transform
        CLSID {000C1082-...}, other sources keep their own.  *source* is a
        :class:`DatabaseBuilder`, a :class:`~.cfb.Storage`, or any object with a
        ``to_storage(name, clsid)`` method returning a :class:`~.cfb.Storage` (the
        transform writer will be one).  Substorage names are not encoded.
        """
        cfb.validate_name(name)
        cfb._check_meta(name, state_bits, created, modified)
        if name in self.storages:
            raise DatabaseError(f"storage {name!r} already exists")
        self.storages[name] = _StorageSpec(name, source, clsid, state_bits, created, modified)

    def copy(self) -> DatabaseBuilder:
        """A deep copy (to derive an upgraded database from a base one)."""
        return copy.deepcopy(self)

    # serialisation ------------------------------------------------------------------------------
    def _all_tables(self) -> list[TableModel]:
        tables = list(self.tables.values())
        if self.validation:
            tables.append(self._validation_table())
        return tables

    def _encode(self) -> tuple[StringPoolWriter, dict[str, bytes]]:
        """String pool plus every table-related stream (logical name -> bytes)."""
        tables = self._all_tables()
        pool = StringPoolWriter(self.codepage, force_long_refs=self.force_long_refs,
                                long_string_layout=self.long_string_layout)
        # Ids: table names, then column names, then cell strings, in declaration order.
        table_ids = {t.name: pool.intern(t.name) for t in tables}
        column_rows = []
        for t in tables:
            for col in t.columns:
                tid = pool.intern(t.name)  # _Columns.Table reference
                column_rows.append((tid, col.number, pool.intern(col.name), col.type_word))
        cell_ids: dict[str, list[list[int]]] = {}
        for t in tables:
            per_row = []
            string_cols = [i for i, c in enumerate(t.columns) if c.kind == KIND_STRING]
            for row in t.rows.values():
                per_row.append([pool.intern(row[i]) for i in string_cols])
            cell_ids[t.name] = per_row

        streams: dict[str, bytes] = {}

        # _Tables: one row per table, sorted by string id
        names_sorted = sorted(table_ids.values())
        streams[TABLES_TABLE] = pool.pack_refs(names_sorted)
        # _Columns: sorted by (Table id, Number)
        column_rows.sort(key=lambda r: (r[0], r[1]))
        streams[COLUMNS_TABLE] = b"".join([
            pool.pack_refs([r[0] for r in column_rows]),
            _pack_u16([(r[1] + 0x8000) & 0xFFFF for r in column_rows]),
            pool.pack_refs([r[2] for r in column_rows]),
            _pack_u16([(r[3] + 0x8000) & 0xFFFF for r in column_rows]),
        ])
        for t in tables:
            if not t.rows and not self.empty_table_streams:
                continue
            streams[t.name] = self._encode_table(t, cell_ids[t.name], pool)
        return pool, streams

    def _encode_table(self, table: TableModel, string_ids: list[list[int]],
                      pool: StringPoolWriter) -> bytes:
        cols = table.columns
        raw_rows = [raw_cells(cols, row, ids) for row, ids in zip(table.rows.values(), string_ids)]
        keys = table.key_indexes or list(range(len(cols)))
        raw_rows.sort(key=lambda r: [r[i] for i in keys])
        parts = []
        for index, col in enumerate(cols):
            values = [r[index] for r in raw_rows]
            kind = col.kind
            if kind == KIND_STRING:
                parts.append(pool.pack_refs(values))
            elif kind == KIND_INT and col.width == 4:
                parts.append(_pack_u32(values))
            else:
                parts.append(_pack_u16(values))
        return b"".join(parts)

    def _binary_streams(self) -> dict[str, bytes]:
        out: dict[str, bytes] = {}
        for t in self.tables.values():
            binary_cols = [i for i, c in enumerate(t.columns) if c.kind == KIND_BINARY]
            if not binary_cols:
                continue
            key_idx = t.key_indexes
            for row in t.rows.values():
                for i in binary_cols:
                    if row[i] is None:
                        continue
                    logical = binary_stream_name(t.name, [row[k] for k in key_idx])
                    entry = encode_stream_name(logical, False)
                    if cfb.name_units(entry) > MAX_STREAM_NAME_UNITS:
                        raise TableError(f"binary stream name {logical!r} is too long "
                                         f"({cfb.name_units(entry)} > {MAX_STREAM_NAME_UNITS} units)")
                    if entry in out:
                        raise TableError(f"two binary cells of table {t.name!r} map to stream {logical!r}")
                    out[entry] = row[i]
        return out

    def to_storage(self, name: str = "Root Entry", clsid: cfb.ClsidLike = None, *,
                   kind: str = "mst") -> cfb.Storage:
        """This database as a CFB storage (for nesting inside another package)."""
        storage = cfb.Storage(name, cfb.clsid_bytes(clsid if clsid is not None else KIND_CLSIDS[kind]))
        self._fill(storage)
        return storage

    def _fill(self, storage: cfb.Storage) -> None:
        pool, table_streams = self._encode()
        storage.add_stream(encode_stream_name("_StringPool", True), pool.pool_bytes())
        storage.add_stream(encode_stream_name("_StringData", True), pool.data_bytes())
        for logical, data in table_streams.items():
            storage.add_stream(encode_stream_name(logical, True), data)
        for entry, data in self._binary_streams().items():
            if entry in self.streams:
                raise DatabaseError(f"stream {entry!r} is both a binary cell and an extra stream")
            storage.add_stream(entry, data)
        for entry, data in self.streams.items():
            storage.add_stream(entry, data)
        if self.summary is not None:
            storage.add_stream(SUMMARY_STREAM, self.summary.to_bytes())
        for spec in self.storages.values():
            storage.add(self._make_substorage(spec))

    def _make_substorage(self, spec: _StorageSpec) -> cfb.Storage:
        source = spec.source
        if isinstance(source, cfb.Storage):
            sub = copy.copy(source)
            sub.name = spec.name
            if spec.clsid is not None:
                sub.clsid = cfb.clsid_bytes(spec.clsid)
        elif isinstance(source, DatabaseBuilder):
            sub = source.to_storage(spec.name, spec.clsid, kind="mst")
        elif hasattr(source, "to_storage"):
            sub = source.to_storage(spec.name, spec.clsid)
        else:
            raise DatabaseError(f"storage {spec.name!r}: cannot build a storage from {type(source).__name__}")
        cfb.validate_name(sub.name)
        sub.state_bits = spec.state_bits or sub.state_bits
        sub.created = spec.created or sub.created
        sub.modified = spec.modified or sub.modified
        return sub

    def compound_file(self, kind: str = "msi") -> cfb.CompoundFileWriter:
        """The package as a :class:`~.cfb.CompoundFileWriter` (for further additions)."""
        if kind not in KIND_CLSIDS:
            raise DatabaseError(f"unknown package kind {kind!r} (msi, msm, msp, mst)")
        writer = cfb.CompoundFileWriter(KIND_CLSIDS[kind])
        self._fill(writer.root)
        return writer

    def build(self, kind: str = "msi", *, pad_to: int | None = None,
              filler_name: str = "Padding") -> bytes:
        """The package bytes.  ``pad_to`` makes the file exactly that many bytes (see
        :meth:`.cfb.CompoundFileWriter.pad_to`; the filler stream is named *filler_name*,
        encoded as an MSI stream name)."""
        writer = self.compound_file(kind)
        if pad_to is not None:
            writer.pad_to(pad_to, encode_stream_name(filler_name, False))
        return writer.to_bytes()

    def write(self, path, kind: str = "msi", **options) -> int:
        data = self.build(kind, **options)
        with open(path, "wb") as fh:
            fh.write(data)
        return len(data)


def raw_cells(columns: Sequence[Column], row: Sequence[Value], string_ids: Iterable[int]) -> list[int]:
    """Stored cell values of one row (FORMATS §1.3): string ids taken in order from
    *string_ids*, binary 1/0, i2 + 0x8000, i4 ^ 0x80000000, NULL 0."""
    ids = iter(string_ids)
    raw = []
    for col, value in zip(columns, row):
        kind = col.kind
        if kind == KIND_STRING:
            raw.append(next(ids))
        elif kind == KIND_BINARY:
            raw.append(0 if value is None else 1)
        elif value is None:
            raw.append(0)
        elif not isinstance(value, int):  # rows pass normalise(), unless TableModel.rows was edited by hand
            raise TableError(f"{col.name}: integer column holds {value!r}")
        elif col.width == 4:
            raw.append((value ^ 0x80000000) & 0xFFFFFFFF)
        else:
            raw.append((value + 0x8000) & 0xFFFF)
    return raw


def pack_cell(column: Column, raw: int, ref_size: int) -> bytes:
    """One stored cell as bytes (row-major use, e.g. transform records)."""
    size = column.cell_size(ref_size)
    return raw.to_bytes(size, "little")


def _pack_u16(values: list[int]) -> bytes:
    arr = array("H", values)
    if sys.byteorder == "big":
        arr.byteswap()
    return arr.tobytes()


def _pack_u32(values: list[int]) -> bytes:
    arr = array("I", values)
    if arr.itemsize != 4:
        return struct.pack(f"<{len(values)}I", *values)
    if sys.byteorder == "big":
        arr.byteswap()
    return arr.tobytes()
