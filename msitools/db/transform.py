"""Transforms: the ``.mst`` format, also used by each transform substorage of an ``.msp``.

A transform storage holds its own string pool, its own summary information
and one stream per changed table.  Unlike database tables, transform table
streams are **row-major**: a sequence of records, each a u16 mask followed by
the cells of the columns the mask selects (FORMATS.md §3.3):

* ``mask & 1``: a full row (insert); its first ``mask >> 8`` columns follow;
* ``mask == 0``: a delete; the primary-key cells follow;
* otherwise an update: the key cells plus every column whose bit is set.

Records carry values only, so decoding needs the table's schema: from the
transform itself for tables and columns it adds (``_Tables``/``_Columns``
records), from the base database otherwise, or (without a base) from the
standard table catalogue checked against the stream: the walk must end exactly
at the end of the stream with every string id in range.
"""
from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from msitools.container.cfb import CompoundFile, Entry
from msitools.db.columns import Column, type_word_from_idt
from msitools.db.database import COLUMNS_SCHEMA, TABLES_SCHEMA, classify_children
from msitools.db.stringpool import StringPool
from msitools.db.summary import SummaryInformation
from msitools.db.table import binary_stream_name
from msitools.errors import MsiToolsError, TransformError
from msitools.limits import DEFAULT_LIMITS, Limits

OP_INSERT = "insert"
OP_UPDATE = "update"
OP_DELETE = "delete"
OP_NONE = "none"

SCHEMA_BASE = "base"
SCHEMA_TRANSFORM = "transform"
SCHEMA_CATALOGUE = "catalogue"
SCHEMA_UNKNOWN = "unknown"
SCHEMA_INFERRED = "inferred"

SYSTEM_STREAMS = {"_StringPool", "_StringData", "_Tables", "_Columns"}
SUMMARY_STREAM = "\x05SummaryInformation"


@dataclass
class RowChange:
    """One record of a transform table stream."""

    op: str  # insert / update / delete
    key: tuple
    values: dict[str, Any]  # insert: the row's present columns; update: keys + changed; delete: keys
    mask: int
    record: int  # 0-based record number in the stream

    def changed_columns(self, columns: Sequence[Column]) -> list[str]:
        keys = {c.name for c in columns if c.key}
        return [name for name in self.values if name not in keys]


@dataclass
class TableChanges:
    """Everything one transform does to one table."""

    table: str
    action: str | None = None  # "create" / "drop" (table level) or None
    columns: list[Column] = field(default_factory=list)  # schema used to decode the records
    added_columns: list[Column] = field(default_factory=list)
    rows: list[RowChange] = field(default_factory=list)
    schema_source: str = SCHEMA_BASE
    raw: bytes | None = None  # the record stream, when it could not be decoded
    issues: list[str] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        out = {OP_INSERT: 0, OP_UPDATE: 0, OP_DELETE: 0}
        for row in self.rows:
            out[row.op] += 1
        return out


def _catalogue_schema(name: str, variant_i4: frozenset[str] = frozenset()) -> list[Column] | None:
    from msitools.db import schema_catalogue  # only transforms read without a base need it

    spec = schema_catalogue.TABLES.get(name)
    if spec is None:
        return None
    cols = []
    for number, (col, idt, key) in enumerate(spec, start=1):
        if col in variant_i4:
            idt = idt[0] + "4"
        cols.append(Column(col, type_word_from_idt(idt, key), number))
    return cols


def catalogue_candidates(name: str) -> list[list[Column]]:
    """The standard schema of *name* and its known i2/i4 width variants."""
    base = _catalogue_schema(name)
    if base is None:
        return []
    from msitools.db import schema_catalogue

    variable = sorted(col for table, col in schema_catalogue.WIDTH_VARIANTS if table == name)
    out = [base]
    if variable:
        variant = _catalogue_schema(name, frozenset(variable))
        assert variant is not None  # the same catalogue entry as *base*, only some widths differ
        out.append(variant)
    return out


class _Walk:
    """Decodes one table stream of records against a schema (raises TransformError)."""

    def __init__(self, transform: Transform, table: str, columns: Sequence[Column], data: bytes):
        self.t = transform
        self.table = table
        self.columns = list(columns)
        self.data = data

    def fail(self, message: str) -> TransformError:
        return TransformError(f"transform {self.t.name!r}, table {self.table!r}: {message}", self.t.path)

    def rows(self) -> list[RowChange]:
        columns = self.columns
        ncols = len(columns)
        if ncols == 0:
            raise self.fail("table has no columns")
        pool = self.t.pool
        ref = pool.ref_size
        sizes = [c.cell_size(ref) for c in columns]
        key_idx = [i for i, c in enumerate(columns) if c.key]
        data = self.data
        end = len(data)
        pos = 0
        out: list[RowChange] = []
        limit = self.t.limits.transform_records
        nstrings = len(pool)
        record = 0
        while pos < end:
            if record >= limit:
                self.t.limits.check("transform_records", record + 1, f"transform {self.t.name!r} table {self.table!r}",
                                    self.t.path)
            if pos + 2 > end:
                raise self.fail(f"record {record + 1} is truncated (1 byte left at offset {pos})")
            (mask,) = struct.unpack_from("<H", data, pos)
            pos += 2
            if mask & 1:
                n = mask >> 8
                if n == 0:
                    n = ncols
                if n > ncols:
                    raise self.fail(f"record {record + 1}: bad mask {mask:#06x} (full row of {n} columns, "
                                    f"the table has {ncols})")
                if mask & 0xFE:
                    raise self.fail(f"record {record + 1}: bad mask {mask:#06x} (full-row flag with column bits)")
                present = list(range(n))
                op = OP_INSERT
            elif mask == 0:
                present = key_idx
                op = OP_DELETE
            else:
                if ncols < 16 and mask >> ncols:
                    raise self.fail(f"record {record + 1}: bad mask {mask:#06x} (bits beyond the table's "
                                    f"{ncols} columns)")
                present = sorted(set(key_idx) | {i for i in range(min(ncols, 16)) if mask >> i & 1})
                op = OP_UPDATE
            size = sum(sizes[i] for i in present)
            if pos + size > end:
                raise self.fail(f"record {record + 1} runs past the end of the stream "
                                f"(needs {size} bytes at offset {pos}, {end - pos} left)")
            values: dict[str, Any] = {}
            raw_binary: list[int] = []
            for i in present:
                column = columns[i]
                width = sizes[i]
                if width == 2:
                    (v,) = struct.unpack_from("<H", data, pos)
                elif width == 4:
                    (v,) = struct.unpack_from("<I", data, pos)
                else:
                    v = data[pos] | data[pos + 1] << 8 | data[pos + 2] << 16
                pos += width
                if column.is_string:
                    if v >= nstrings:
                        raise self.fail(f"record {record + 1} column {column.name!r}: string id {v} out of "
                                        f"range (the transform's pool has {nstrings - 1} strings)")
                    values[column.name] = pool[v] if v else None
                elif column.is_binary:
                    values[column.name] = v
                    raw_binary.append(i)
                elif width == 2:
                    values[column.name] = v - 0x8000 if v else None
                else:
                    values[column.name] = v - 0x80000000 if v else None
            key = tuple(values.get(columns[i].name) for i in key_idx)
            for i in raw_binary:
                name = columns[i].name
                values[name] = binary_stream_name(self.table, key) if values[name] else None
            out.append(RowChange(op, key, values, mask, record))
            record += 1
        return out


class Transform:
    """A transform storage: a standalone .mst (root) or a substorage of an .msp."""

    def __init__(self, cfb: CompoundFile, storage: Entry, name: str, path: str,
                 limits: Limits = DEFAULT_LIMITS):
        self.cfb = cfb
        self.storage = storage
        self.name = name
        self.path = path
        self.limits = limits
        self.table_streams, self.streams, self.storages = classify_children(storage)
        summary_entry = storage.child(SUMMARY_STREAM)
        if summary_entry is not None:
            self.summary = SummaryInformation.parse(cfb.read_stream(summary_entry), "mst", path, limits,
                                                    f"transform {name!r} summary information")
        else:
            self.summary = SummaryInformation.empty("mst")
        pool_entry = self.table_streams.get("_StringPool")
        data_entry = self.table_streams.get("_StringData")
        if pool_entry is None:
            if set(self.table_streams) - SYSTEM_STREAMS:
                raise TransformError(f"transform {name!r} has table streams but no string pool", path)
            self.pool = StringPool.empty()
        else:
            data = cfb.read_stream(data_entry) if data_entry is not None else b""
            try:
                self.pool = StringPool.parse(cfb.read_stream(pool_entry), data, path, limits,
                                             f"transform {name!r}")
            except MsiToolsError as exc:
                raise TransformError(exc.message, path) from None
        self._changes: list[TableChanges] | None = None
        self._schema_key: int | None = None  # id() of the base schemas _changes was decoded against

    # -- summary --------------------------------------------------------
    @property
    def info(self) -> dict[str, Any]:
        return self.summary.to_dict()

    @property
    def changed_table_names(self) -> list[str]:
        return [n for n in self.table_streams if n not in SYSTEM_STREAMS]

    def _records(self, name: str, schema: Sequence[Column]) -> list[RowChange]:
        entry = self.table_streams.get(name)
        if entry is None:
            return []
        return _Walk(self, name, schema, self.cfb.read_stream(entry)).rows()

    def read_stream(self, name: str) -> bytes | None:
        """A non-table stream of the transform (e.g. binary cell data), by decoded name."""
        for info in self.streams:
            if info.name == name:
                return self.cfb.read_stream(info.entry)
        return None

    # -- decoding ---------------------------------------------------------
    def changes(self, base_schemas: Mapping[str, Sequence[Column]] | None = None) -> list[TableChanges]:
        """Decode every change, table by table.

        *base_schemas* (table -> columns, e.g. from the base database) decides how
        records of existing tables are read; without it the standard catalogue is
        used and checked against each stream.  Tables appear in the order
        ``_Tables`` changes, then ``_Columns`` changes, then the rest in stream
        order (as Windows applies them).
        """
        key = None if base_schemas is None else id(base_schemas)
        if self._changes is not None and self._schema_key == key:
            return self._changes
        schemas: dict[str, list[Column]] = {n: list(c) for n, c in (base_schemas or {}).items()}
        by_table: dict[str, TableChanges] = {}
        order: list[str] = []

        def entry_for(table: str) -> TableChanges:
            if table not in by_table:
                by_table[table] = TableChanges(table)
                order.append(table)
            return by_table[table]

        # 1. tables added / dropped
        for row in self._records("_Tables", TABLES_SCHEMA):
            table = row.values.get("Name")
            if table is None:
                raise TransformError(f"transform {self.name!r}: _Tables record {row.record + 1} has no name",
                                     self.path)
            change = entry_for(table)
            if row.op == OP_INSERT:
                change.action = "create"
                change.schema_source = SCHEMA_TRANSFORM
                if base_schemas is not None and table in base_schemas:
                    change.issues.append("adds a table that already exists (add_existing_table)")
                schemas[table] = []
            elif row.op == OP_DELETE:
                change.action = "drop"
                if base_schemas is not None and table not in base_schemas:
                    change.issues.append("drops a table that does not exist (del_missing_table)")
        # 2. columns added (Number NULL: appended in order)
        for row in self._records("_Columns", COLUMNS_SCHEMA):
            table = row.values.get("Table")
            name = row.values.get("Name")
            type_word = row.values.get("Type")
            if row.op != OP_INSERT:
                # a NULL Table cell (malformed record) files the issue under None, as it always has
                entry_for(table).issues.append(  # type: ignore[arg-type]
                    f"_Columns {row.op} record for column {row.values.get('Number')} ignored")
                continue
            if table is None or name is None or type_word is None:
                raise TransformError(f"transform {self.name!r}: _Columns record {row.record + 1} lacks a table, "
                                     "name or type", self.path)
            cols = schemas.get(table)
            if cols is None:
                if base_schemas is None:
                    cols = self._guess_existing_schema(table)
                if cols is None:
                    raise TransformError(f"transform {self.name!r}: adds column {name!r} to table {table!r}, "
                                         "which neither the base nor the transform defines", self.path)
                schemas[table] = cols
            column = Column(name, type_word & 0xFFFF, len(cols) + 1)
            cols.append(column)
            change = entry_for(table)
            change.added_columns.append(column)
        # 3. row records
        for table in self.changed_table_names:
            change = entry_for(table)
            if change.action == "drop" and table not in schemas:
                continue
            schema = schemas.get(table)
            data = self.cfb.read_stream(self.table_streams[table])
            if schema is not None:
                change.columns = list(schema)
                if change.action != "create" and change.schema_source != SCHEMA_TRANSFORM:
                    change.schema_source = SCHEMA_BASE if base_schemas is not None else SCHEMA_CATALOGUE
                change.rows = _Walk(self, table, schema, data).rows()
                continue
            if base_schemas is not None:
                raise TransformError(f"transform {self.name!r} changes table {table!r}, which is not in the "
                                     "base database and is not created by the transform", self.path)
            self._decode_with_catalogue(change, data)
        for table, change in by_table.items():
            if not change.columns and table in schemas:
                change.columns = list(schemas[table])
        self._changes = [by_table[t] for t in order]
        self._schema_key = key
        return self._changes

    def _guess_existing_schema(self, table: str) -> list[Column] | None:
        candidates = catalogue_candidates(table)
        return list(candidates[0]) if candidates else None

    def _decode_with_catalogue(self, change: TableChanges, data: bytes) -> None:
        fits: list[tuple[list[Column], list[RowChange]]] = []
        errors: list[str] = []
        for schema in catalogue_candidates(change.table):
            try:
                fits.append((schema, _Walk(self, change.table, schema, data).rows()))
            except TransformError as exc:
                errors.append(exc.message)
        if not fits:
            if self._infer_deletes(change, data):
                return
            change.schema_source = SCHEMA_UNKNOWN
            change.raw = data
            if errors:
                change.issues.append("records do not match the standard schema of this table; "
                                     "give the base package to decode them")
            else:
                change.issues.append("not a standard table and the transform does not define it; "
                                     "give the base package to decode its records")
            return
        schema, rows = fits[0]
        if len(fits) > 1 and any(len(r) != len(rows) or [x.values for x in r] != [x.values for x in rows]
                                 for _, r in fits[1:]):
            change.issues.append("standard-schema decoding is ambiguous (integer widths); give the base "
                                 "package for certainty")
        change.schema_source = SCHEMA_CATALOGUE
        change.columns = list(schema)
        change.rows = rows


    def _infer_deletes(self, change: TableChanges, data: bytes) -> bool:
        """Unknown table whose records are all deletes: keys are 2- or 3-byte cells; decode as strings.

        Only used without a base.  The smallest key width for which every record
        starts with a zero mask and every cell is a valid string id wins; the
        result is marked ``inferred``.
        """
        ref = self.pool.ref_size
        nstrings = len(self.pool)
        for ncells in range(1, 5):
            size = 2 + ncells * ref
            if not data or len(data) % size:
                continue
            records = [data[i:i + size] for i in range(0, len(data), size)]
            if any(r[:2] != b"\x00\x00" for r in records):
                continue
            keys = []
            for r in records:
                ids = [int.from_bytes(r[2 + k * ref:2 + (k + 1) * ref], "little") for k in range(ncells)]
                if any(i == 0 or i >= nstrings for i in ids):
                    break
                keys.append(tuple(self.pool[i] for i in ids))
            else:
                change.schema_source = SCHEMA_INFERRED
                change.columns = [Column(f"key{k + 1}", type_word_from_idt("s0", True), k + 1)
                                  for k in range(ncells)]
                change.rows = [RowChange(OP_DELETE, key, {f"key{k + 1}": v for k, v in enumerate(key)}, 0, n)
                               for n, key in enumerate(keys)]
                change.issues.append("schema not in the file: records are deletes; keys inferred as strings "
                                     "(give the base package to confirm)")
                return True
        return False


def open_transform_storage(cfb: CompoundFile, storage: Entry, name: str, path: str,
                           limits: Limits = DEFAULT_LIMITS) -> Transform:
    return Transform(cfb, storage, name, path, limits)


def transform_report(transform: Transform, base=None) -> dict[str, Any]:
    """The ``msitools transform`` JSON: summary and changes table by table.

    *base* (a Database) decodes existing tables with their real schema and gives
    updates and deletes their old values.
    """
    schemas = None
    if base is not None:
        schemas = {name: base.schema(name) for name in base.table_names}
    tables = []
    for change in transform.changes(schemas):
        base_index = {}
        if base is not None and base.has_table(change.table) and change.action != "create":
            base_table = base.table(change.table)
            base_index = base_table.index()
            base_names = base_table.column_names
        rows = []
        for rc in change.rows:
            item: dict[str, Any] = {"op": rc.op, "key": list(rc.key), "values": dict(rc.values)}
            old = base_index.get(rc.key)
            if base is not None and change.action != "create":
                if old is None:
                    item["old"] = None
                    if rc.op in (OP_UPDATE, OP_DELETE):
                        item["issue"] = f"no row with key {list(rc.key)} in the base"
                    elif rc.op == OP_INSERT:
                        pass
                else:
                    old_values = dict(zip(base_names, old))
                    if rc.op == OP_UPDATE:
                        item["old"] = {k: old_values.get(k) for k in rc.values}
                    else:
                        item["old"] = old_values
                    if rc.op == OP_INSERT:
                        item["issue"] = f"row {list(rc.key)} already exists in the base"
            rows.append(item)
        tables.append({
            "table": change.table,
            "action": change.action,
            "schema": change.schema_source,
            "columns": [c.name for c in change.columns],
            "key_columns": [c.name for c in change.columns if c.key],
            "added_columns": [c.describe() for c in change.added_columns],
            "counts": change.counts,
            "changes": rows,
            "issues": list(change.issues),
            **({"raw_records": change.raw.hex()} if change.raw is not None else {}),
        })
    return {"path": transform.path, "name": transform.name, "summary": transform.info, "tables": tables}
