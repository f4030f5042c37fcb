"""Transform writer (FORMATS §3): standalone ``.mst`` files and MSP transform substorages.

A transform storage holds its own string pool, one **row-major** record stream
per changed table, ``_Tables``/``_Columns`` records for schema changes, the
data of new binary cells and its own summary information.

Records (FORMATS §3.3), each a u16 mask followed by cells in column order:

* insert: ``mask = (ncols << 8) | 1``, every column present;
* delete: ``mask = 0``, primary-key cells only;
* update: bit *i* set for every changed non-key column *i* (0-based, so only
  columns 1..16 can be updated), key cells always present.

Cells use the database encodings (string id in this transform's pool, i2 +
0x8000, i4 ^ 0x80000000, 0 = NULL, binary placeholder 1 with its data in the
stream ``Table.key1.key2`` of the transform storage).  Records of a table are
sorted by their raw key cells, as Windows keeps rows.

Schema changes (FORMATS §3.4): a new table is a ``_Tables`` record ``01 01`` +
name and one ``_Columns`` record per column with **Number NULL** (Windows
writes NULL; readers number them 1, 2, ... in order, restarting with each
table); a dropped table is a ``_Tables`` delete record.  Columns appended to a
table that exists in the base get their **explicit** number instead (⚠ native
behaviour unconfirmed, FORMATS §9 item 2: NULL would be renumbered from 1 by
Wine, which cannot be right for an existing table).

:meth:`TransformWriter.from_diff` computes the changes between two
:class:`~.database.DatabaseBuilder` models; the editing methods build an
explicit change list.  String ids are handed out in a fixed order (schema
names first, then tables by name, rows by key) unless *string_order* pins the
first ids (used to reproduce byte-exact reference transforms).
"""
from __future__ import annotations

import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Union

from msitools.container import cfb_writer as cfb
from msitools.container.streamname import encode_stream_name
from msitools.db.columns import KIND_BINARY, KIND_STRING, Column
from msitools.errors import MsiToolsError, StringPoolError, TransformError
from msitools.testing.writer.database import (
    CLSID_MST,
    COLUMNS_COLUMNS,
    COLUMNS_TABLE,
    MAX_STREAM_NAME_UNITS,
    TABLES_COLUMNS,
    TABLES_TABLE,
    DatabaseBuilder,
    TableModel,
    Value,
    binary_stream_name,
    make_column,
    pack_cell,
)
from msitools.testing.writer.stringpool import StringPoolWriter
from msitools.testing.writer.summary import STREAM_NAME as SUMMARY_STREAM
from msitools.testing.writer.summary import SummaryInfo, transform_revision

__all__ = [
    "ADD_COLUMN",
    "CREATE_TABLE",
    "DELETE",
    "DROP_TABLE",
    "INSERT",
    "MASK_COLUMNS",
    "UPDATE",
    "RowChange",
    "SchemaChange",
    "TransformWriter",
    "binary_cell",
    "insert_mask",
    "transform_summary",
]

INSERT = "insert"
DELETE = "delete"
UPDATE = "update"
CREATE_TABLE = "create_table"
DROP_TABLE = "drop_table"
ADD_COLUMN = "add_column"
MASK_COLUMNS = 16  # an update mask addresses columns 1..16 (FORMATS §3.3, §9 item 1)

SchemaLike = Union[DatabaseBuilder, Mapping[str, Sequence[Column]]]  # noqa: UP007 (a runtime alias: "|" needs Python 3.10 classes on both sides)


def insert_mask(column_count: int) -> int:
    """Mask of a full-row (insert) record."""
    return (column_count << 8) | 1


@dataclass(frozen=True)
class RowChange:
    """One row operation.  *values* maps column name -> value: all columns for an
    insert, the changed columns for an update, nothing for a delete."""

    table: str
    op: str
    key: tuple
    values: dict[str, Value] = field(default_factory=dict)


@dataclass(frozen=True)
class SchemaChange:
    """A table created or dropped, or a column appended (*columns* holds it)."""

    table: str
    op: str
    columns: tuple[Column, ...] = ()


def binary_cell(table: str, key: Sequence[Value], data: bytes) -> dict:
    """A binary cell as plain data: its stream name (``Table.key1.key2``), size, CRC32 and bytes."""
    return {"stream": binary_stream_name(table, key), "size": len(data), "crc32": zlib.crc32(data),
            "hex": data.hex()}


def _sort_value(value: Value) -> tuple:
    if value is None:
        return (0,)
    if isinstance(value, bytes):
        return (2, value)
    return (1, value)


def _schema_from(base: SchemaLike) -> dict[str, list[Column]]:
    if isinstance(base, DatabaseBuilder):
        return {name: list(t.columns) for name, t in _tables_of(base).items()}
    schema = {}
    for name, cols in base.items():
        if not all(isinstance(c, Column) for c in cols):
            raise TransformError(f"transform: the schema of {name!r} must be a sequence of Column objects")
        schema[name] = [Column(c.name, c.type_word, i + 1) for i, c in enumerate(cols)]
    return schema


def _tables_of(db: DatabaseBuilder) -> dict[str, TableModel]:
    """Every stored table of a builder, ``_Validation`` included when it writes one."""
    tables = dict(db.tables)
    if db.validation:
        validation = db._validation_table()   # the builder's own generator (same rows it writes)
        tables[validation.name] = validation
    return tables


class TransformWriter:
    """Changes against a base database, serialised as a transform.

    *base* is a :class:`DatabaseBuilder` (its schema and rows; rows let the
    editing methods check that updated/deleted rows exist) or a mapping of
    table name -> columns (schema only).  *codepage* is the transform pool's
    codepage (default: the base builder's, else 1252).  *summary* becomes the
    transform's ``\\x05SummaryInformation`` (None: no summary stream).
    """

    def __init__(self, base: SchemaLike, *, codepage: int | None = None,
                 summary: SummaryInfo | None = None, force_long_refs: bool = False,
                 string_order: Sequence[str] = ()):
        self._schema = _schema_from(base)
        self._base_tables = frozenset(self._schema)
        self._base_rows: dict[str, dict[tuple, tuple]] | None = None
        if isinstance(base, DatabaseBuilder):
            self._base_rows = {name: t.rows for name, t in _tables_of(base).items()}
            default_codepage = base.codepage
        else:
            default_codepage = 1252
        self.codepage = default_codepage if codepage is None else codepage
        self.summary = summary
        self.force_long_refs = force_long_refs
        self.string_order = list(string_order)
        self._schema_changes: list[SchemaChange] = []
        self._dropped: set[str] = set()
        self._rows: dict[str, dict[tuple, RowChange]] = {}

    # schema -------------------------------------------------------------------------------------
    def columns(self, table: str) -> list[Column]:
        """The table's schema as the transform sees it (after its own schema changes)."""
        try:
            return self._schema[table]
        except KeyError:
            raise TransformError(f"transform: no table {table!r} in the base or created by the transform") from None

    def create_table(self, name: str, columns: Iterable[Any]) -> list[Column]:
        """Add a table: ``columns`` as for :meth:`DatabaseBuilder.add_table`."""
        if name in self._schema:
            raise TransformError(f"transform: table {name!r} already exists")
        if name in self._dropped:
            raise TransformError(f"transform: table {name!r} is dropped by this transform and cannot be re-created")
        if name in (TABLES_TABLE, COLUMNS_TABLE):
            raise TransformError(f"transform: {name} cannot be created")
        try:
            cols = [make_column(spec, i + 1) for i, spec in enumerate(columns)]
        except MsiToolsError as exc:
            raise TransformError(f"transform: table {name!r}: {exc.message}") from exc
        if not cols:
            raise TransformError(f"transform: table {name!r} has no columns")
        if cfb.name_units(encode_stream_name(name, True)) > MAX_STREAM_NAME_UNITS:
            raise TransformError(f"transform: table name {name!r} is too long for a stream name")
        self._schema[name] = cols
        self._schema_changes.append(SchemaChange(name, CREATE_TABLE, tuple(cols)))
        return cols

    def drop_table(self, name: str) -> None:
        """Remove a table of the base (a ``_Tables`` delete record)."""
        if name not in self._base_tables or name in self._dropped:
            raise TransformError(f"transform: cannot drop {name!r}: not a table of the base")
        if self._rows.get(name):
            raise TransformError(f"transform: table {name!r} has row changes and cannot be dropped")
        del self._schema[name]
        self._dropped.add(name)
        self._schema_changes.append(SchemaChange(name, DROP_TABLE))

    def add_column(self, table: str, spec: Any) -> Column:
        """Append a column to a table (of the base or created here)."""
        cols = self.columns(table)
        try:
            column = make_column(spec, len(cols) + 1)
        except MsiToolsError as exc:
            raise TransformError(f"transform: {table}: {exc.message}") from exc
        if any(c.name == column.name for c in cols):
            raise TransformError(f"transform: table {table!r} already has a column {column.name!r}")
        if column.key:
            raise TransformError(f"transform: {table}.{column.name}: key columns cannot be appended")
        cols.append(column)
        if table in self._base_tables:
            self._schema_changes.append(SchemaChange(table, ADD_COLUMN, (column,)))
        else:  # part of a table this transform creates: extend its CREATE entry
            for i, change in enumerate(self._schema_changes):
                if change.table == table and change.op == CREATE_TABLE:
                    self._schema_changes[i] = SchemaChange(table, CREATE_TABLE, tuple(cols))
        return column

    # rows ---------------------------------------------------------------------------------------
    def _model(self, table: str) -> TableModel:
        return TableModel(table, self.columns(table))

    def _base_row(self, table: str, key: tuple) -> tuple | None:
        if self._base_rows is None or table not in self._base_tables:
            return None
        return self._base_rows.get(table, {}).get(key)

    def _record(self, change: RowChange) -> None:
        per_table = self._rows.setdefault(change.table, {})
        if change.key in per_table:
            raise TransformError(f"transform: table {change.table!r} already has a change for key {change.key!r}")
        per_table[change.key] = change

    def insert(self, table: str, *values: Value) -> tuple:
        """Add a row (values in column order, or one dict by column name)."""
        model = self._model(table)
        values = model.values_in_order(values, TransformError, "transform: ")
        try:
            row = model.normalise(values, strict=False)
        except MsiToolsError as exc:
            raise TransformError(f"transform: {exc.message}") from exc
        key = model.key_of(row)
        if self._base_rows is not None and self._base_row(table, key) is not None:
            raise TransformError(f"transform: table {table!r} already has a row with key {key!r}")
        self._record(RowChange(table, INSERT, key, {c.name: v for c, v in zip(model.columns, row)}))
        return key

    def delete(self, table: str, *key: Value) -> None:
        """Remove the row with this primary key."""
        model = self._model(table)
        key = tuple(key)
        if not model.key_indexes:
            raise TransformError(f"transform: table {table!r} has no primary key; rows cannot be deleted")
        if len(key) != len(model.key_indexes):
            raise TransformError(f"transform: {table} key {key!r} needs {len(model.key_indexes)} values")
        if self._base_rows is not None and table in self._base_tables and self._base_row(table, key) is None:
            raise TransformError(f"transform: table {table!r} has no row with key {key!r} to delete")
        self._record(RowChange(table, DELETE, key))

    def update(self, table: str, key: Sequence[Value], values: Mapping[str, Value]) -> None:
        """Change non-key cells of an existing row: ``values`` = {column name: new value}."""
        model = self._model(table)
        key = tuple(key)
        if not model.key_indexes:
            raise TransformError(f"transform: table {table!r} has no primary key; rows cannot be updated")
        if len(key) != len(model.key_indexes):
            raise TransformError(f"transform: {table} key {key!r} needs {len(model.key_indexes)} values")
        if not values:
            raise TransformError(f"transform: update of {table} {key!r} changes nothing")
        if self._base_rows is not None and table in self._base_tables and self._base_row(table, key) is None:
            raise TransformError(f"transform: table {table!r} has no row with key {key!r} to update")
        clean: dict[str, Value] = {}
        for name, value in values.items():
            try:
                index = model.column_index(name)
            except MsiToolsError as exc:
                raise TransformError(f"transform: {exc.message}") from exc
            column = model.columns[index]
            if column.key:
                raise TransformError(f"transform: {table}.{name} is a key column (delete and insert instead)")
            if index >= MASK_COLUMNS:
                raise TransformError(f"transform: {table}.{name} is column {index + 1}; an update mask "
                                     f"addresses only columns 1..{MASK_COLUMNS}")
            probe: list[Value] = [None] * len(model.columns)
            probe[index] = value
            try:
                clean[name] = model.normalise(probe, strict=False)[index]
            except MsiToolsError as exc:
                raise TransformError(f"transform: {exc.message}") from exc
        self._record(RowChange(table, UPDATE, key, clean))

    # queries ------------------------------------------------------------------------------------
    def schema_changes(self) -> list[SchemaChange]:
        return list(self._schema_changes)

    def row_changes(self, table: str | None = None) -> list[RowChange]:
        """Row changes (of one table or all), tables by name, rows by key."""
        names = [table] if table is not None else sorted(self._rows)
        out: list[RowChange] = []
        for name in names:
            changes = self._rows.get(name, {})
            out.extend(changes[k] for k in sorted(changes, key=lambda k: tuple(_sort_value(v) for v in k)))
        return out

    def describe(self) -> list[dict]:
        """The change list as plain data (schema changes first, then rows)."""
        out: list[dict] = []
        for change in self._schema_changes:
            entry: dict = {"table": change.table, "op": change.op}
            if change.columns:
                entry["columns"] = [dict(name=c.name, type=c.type_word, idt=c.idt_type, key=c.key,
                                         number=c.number) for c in change.columns]
            out.append(entry)
        for row_change in self.row_changes():
            values = {name: binary_cell(row_change.table, row_change.key, value) if isinstance(value, bytes) else value
                      for name, value in row_change.values.items()}
            out.append({"table": row_change.table, "op": row_change.op, "key": list(row_change.key), "values": values})
        return out

    # encoding -----------------------------------------------------------------------------------
    def _encode(self) -> tuple[StringPoolWriter, dict[str, bytes], dict[str, bytes]]:
        """(string pool, table streams by logical name, binary streams by CFB entry name)."""
        pool = StringPoolWriter(self.codepage, force_long_refs=self.force_long_refs)
        for text in self.string_order:
            pool.intern(text, references=0)

        # pass 1: raw cell values (string ids final once interned), per stream
        tables_records: list[tuple[list[int], int, list[Column], list[int]]] = []
        tables_col = list(TABLES_COLUMNS)
        columns_cols = list(COLUMNS_COLUMNS)
        created = [c for c in self._schema_changes if c.op == CREATE_TABLE]
        dropped = [c for c in self._schema_changes if c.op == DROP_TABLE]
        for change in sorted(created + dropped, key=lambda c: c.table):
            mask = insert_mask(1) if change.op == CREATE_TABLE else 0
            tables_records.append(([pool.intern(change.table)], mask, tables_col, [0]))

        columns_records: list[tuple[list[int], int, list[Column], list[int], int]] = []
        schema_rows: list[tuple[str, Column, bool]] = []
        for change in sorted(created, key=lambda c: c.table):
            schema_rows.extend((change.table, col, True) for col in change.columns)
        for change in [c for c in self._schema_changes if c.op == ADD_COLUMN]:
            schema_rows.extend((change.table, col, False) for col in change.columns)
        for table, col, null_number in schema_rows:
            number_raw = 0 if null_number else (col.number + 0x8000) & 0xFFFF
            raw = [pool.intern(table), number_raw, pool.intern(col.name), (col.type_word + 0x8000) & 0xFFFF]
            columns_records.append((raw, insert_mask(4), columns_cols, [0, 1, 2, 3], col.number))

        data_records: dict[str, list[tuple[list[int], int, list[Column], list[int]]]] = {}
        binary: dict[str, bytes] = {}
        for table in sorted(self._rows):
            model = self._model(table)
            cols = model.columns
            key_idx = [i for i, c in enumerate(cols) if c.key]
            records = []
            for row_change in self.row_changes(table):
                if row_change.op == INSERT:
                    present = list(range(len(cols)))
                    mask = insert_mask(len(cols))
                elif row_change.op == DELETE:
                    present = key_idx
                    mask = 0
                else:
                    changed = {model.column_index(n) for n in row_change.values}
                    present = sorted(set(key_idx) | changed)
                    mask = 0
                    for i in changed:
                        mask |= 1 << i
                values = dict(zip((cols[i].name for i in key_idx), row_change.key))
                values.update(row_change.values)
                raw = []
                for i in present:
                    col = cols[i]
                    value = values.get(col.name)
                    raw.append(self._raw(col, value, pool))
                    if col.kind == KIND_BINARY and value is not None:
                        self._add_binary(binary, table, row_change.key, value)
                records.append((raw, mask, cols, present))
            data_records[table] = records

        # pass 2: pack with the final reference width, records sorted by raw key cells
        ref = pool.ref_size
        streams: dict[str, bytes] = {}
        if tables_records:
            tables_records.sort(key=lambda r: r[0][0])
            streams[TABLES_TABLE] = b"".join(self._pack(r, ref) for r in tables_records)
        if columns_records:
            columns_records.sort(key=lambda r: (r[0][0], r[4]))
            streams[COLUMNS_TABLE] = b"".join(self._pack(r[:4], ref) for r in columns_records)
        for table, records in data_records.items():
            if not records:
                continue
            cols = self.columns(table)
            key_idx = [i for i, c in enumerate(cols) if c.key] or list(range(len(cols)))

            def raw_key(record, key_idx=key_idx):
                raw, _mask, _cols, present = record
                by_index = dict(zip(present, raw))
                return [by_index.get(i, 0) for i in key_idx]

            records.sort(key=raw_key)
            streams[table] = b"".join(self._pack(r, ref) for r in records)
        return pool, streams, binary

    @staticmethod
    def _raw(col: Column, value: Value, pool: StringPoolWriter) -> int:
        kind = col.kind
        if kind == KIND_STRING:
            if value is not None and not isinstance(value, str):  # a key given to delete()/update() as it came
                raise StringPoolError(f"string pool entries are str, got {type(value).__name__}")
            return pool.intern(value)
        if kind == KIND_BINARY:
            return 0 if value is None else 1
        if value is None:
            return 0
        if not isinstance(value, int):  # a key given to delete()/update() as it came
            raise TransformError(f"transform: {col.name}: integer column given {value!r}")
        if col.width == 4:
            return (value ^ 0x80000000) & 0xFFFFFFFF
        return (value + 0x8000) & 0xFFFF

    @staticmethod
    def _pack(record: tuple, ref_size: int) -> bytes:
        raw, mask, cols, present = record
        out = bytearray(mask.to_bytes(2, "little"))
        for value, i in zip(raw, present):
            out += pack_cell(cols[i], value, ref_size)
        return bytes(out)

    def _add_binary(self, out: dict[str, bytes], table: str, key: tuple, data: bytes) -> None:
        logical = binary_stream_name(table, key)
        entry = encode_stream_name(logical, False)
        if cfb.name_units(entry) > MAX_STREAM_NAME_UNITS:
            raise TransformError(f"transform: binary stream name {logical!r} is too long "
                                 f"({cfb.name_units(entry)} > {MAX_STREAM_NAME_UNITS} units)")
        if entry in out:
            raise TransformError(f"transform: two binary cells of {table!r} map to stream {logical!r}")
        out[entry] = data

    def table_streams(self) -> dict[str, bytes]:
        """Logical name -> bytes for ``_StringPool``, ``_StringData`` and every record stream."""
        pool, streams, _binary = self._encode()
        return {"_StringPool": pool.pool_bytes(), "_StringData": pool.data_bytes(), **streams}

    def binary_streams(self) -> dict[str, bytes]:
        """CFB entry name -> data for the binary cells the records carry."""
        return self._encode()[2]

    # output -------------------------------------------------------------------------------------
    def to_storage(self, name: str = "Root Entry", clsid: cfb.ClsidLike = None) -> cfb.Storage:
        """The transform as a CFB storage (an MSP substorage, or the root of an .mst)."""
        storage = cfb.Storage(name, cfb.clsid_bytes(clsid if clsid is not None else CLSID_MST))
        pool, streams, binary = self._encode()
        storage.add_stream(encode_stream_name("_StringPool", True), pool.pool_bytes())
        storage.add_stream(encode_stream_name("_StringData", True), pool.data_bytes())
        for logical, data in streams.items():
            storage.add_stream(encode_stream_name(logical, True), data)
        for entry, data in binary.items():
            storage.add_stream(entry, data)
        if self.summary is not None:
            storage.add_stream(SUMMARY_STREAM, self.summary.to_bytes())
        return storage

    def build(self) -> bytes:
        """A standalone ``.mst`` (root CLSID {000C1082-...})."""
        writer = cfb.CompoundFileWriter(CLSID_MST)
        source = self.to_storage()
        for child in source.children.values():
            writer.root.add(child)
        return writer.to_bytes()

    def write(self, path) -> int:
        data = self.build()
        with open(path, "wb") as fh:
            fh.write(data)
        return len(data)

    # diff ---------------------------------------------------------------------------------------
    @classmethod
    def from_diff(cls, base: DatabaseBuilder, target: DatabaseBuilder, *,
                  exclude_tables: Iterable[str] = (), summary: SummaryInfo | None = None,
                  **options) -> TransformWriter:
        """The transform that turns *base* into *target*.

        Tables only in *base* are dropped, tables only in *target* are created
        with all their rows, tables in both must keep the base columns as a
        prefix (extra columns are appended); rows are inserted, deleted or
        updated (changed non-key cells only).  *exclude_tables* are left alone.
        """
        writer = cls(base, summary=summary, **{"codepage": target.codepage, **options})
        skip = set(exclude_tables)
        base_tables = _tables_of(base)
        target_tables = _tables_of(target)
        for name in sorted(base_tables):
            if name not in target_tables and name not in skip:
                writer.drop_table(name)
        for name in sorted(target_tables):
            if name in skip:
                continue
            new = target_tables[name]
            if name not in base_tables:
                writer.create_table(name, new.columns)
                for key in sorted(new.rows, key=lambda k: tuple(_sort_value(v) for v in k)):
                    writer.insert(name, *new.rows[key])
                continue
            old = base_tables[name]
            old_cols = [(c.name, c.type_word) for c in old.columns]
            new_cols = [(c.name, c.type_word) for c in new.columns]
            if new_cols[:len(old_cols)] != old_cols:
                raise TransformError(f"transform: table {name!r} changes existing columns; "
                                     "a transform can only append columns")
            for col in new.columns[len(old.columns):]:
                writer.add_column(name, col)
            width = len(old.columns)
            for key in sorted(set(old.rows) | set(new.rows), key=lambda k: tuple(_sort_value(v) for v in k)):
                before, after = old.rows.get(key), new.rows.get(key)
                if after is None:
                    writer.delete(name, *key)
                elif before is None:
                    writer.insert(name, *after)
                else:
                    padded = tuple(before) + (None,) * (len(after) - width)
                    changed = {c.name: after[i] for i, c in enumerate(new.columns)
                               if not c.key and padded[i] != after[i]}
                    if changed:
                        writer.update(name, key, changed)
        return writer


def transform_summary(base: DatabaseBuilder, target: DatabaseBuilder, *, validation: int = 0,
                      error_conditions: int = 0, **fields) -> SummaryInfo:
    """Summary information of a transform from *base* to *target* (FORMATS §2.2):
    Template = base Template, LastAuthor = target Template, RevNumber
    ``{PC}ver;{PC}ver;{UpgradeCode}`` from the Property tables, PageCount = the
    larger PageCount, CharCount = validation << 16 | error conditions; title,
    subject, author, keywords, comments and times copied from *target*."""

    def prop(db: DatabaseBuilder, name: str) -> str:
        table = db.tables.get("Property")
        row = table.rows.get((name,)) if table is not None else None
        return row[1] if row and row[1] is not None else ""

    def page(db: DatabaseBuilder) -> int:
        return db.summary.page_count if db.summary is not None and db.summary.page_count is not None else 0

    source = target.summary or SummaryInfo()
    base_template = base.summary.template if base.summary is not None else ""
    values: dict[str, Any] = dict(  # keyword arguments for SummaryInfo.for_mst, *fields* may add any of its fields
        codepage=source.codepage, subject=source.subject, author=source.author, keywords=source.keywords,
        comments=source.comments, created=source.created, last_saved=source.last_saved,
        app_name=source.app_name,
    )
    values.update(fields)
    revision = transform_revision(prop(base, "ProductCode"), prop(base, "ProductVersion"),
                                  prop(target, "ProductCode"), prop(target, "ProductVersion"),
                                  prop(target, "UpgradeCode"))
    return SummaryInfo.for_mst(template=base_template or "", new_template=source.template or "",
                               revision=revision, validation=validation, error_conditions=error_conditions,
                               page_count=max(page(base), page(target)), **values)
