"""A base database viewed with transforms and patches applied, every row carrying its operation.

Operations are relative to the base: ``insert`` (the row is new), ``update``
(some values differ from the base row), ``delete`` (the base row is removed;
shown with its old values), ``none`` (untouched).  Transforms apply in the
order given, each in Windows' order (``_Tables``, ``_Columns``, then the
rest).  Conditions Windows treats as errors unless the transform suppresses
them (adding an existing row, deleting or updating a missing one, adding an
existing table, deleting a missing table) are recorded as issues; the change is
then applied the way Wine applies it (insert overwrites, update of a missing
row inserts it).
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from msitools.db.columns import Column
from msitools.db.package import Package
from msitools.db.transform import OP_DELETE, OP_INSERT, OP_NONE, OP_UPDATE, TableChanges, Transform
from msitools.errors import UsageError


@dataclass
class PatchedRow:
    base: tuple | None  # the base row (None when the row is new)
    values: tuple  # the current row
    deleted: bool = False
    sources: list[str] = field(default_factory=list)  # transforms that touched it

    @property
    def op(self) -> str:
        if self.base is None:
            return OP_INSERT
        if self.deleted:
            return OP_DELETE
        if self.values != self.base:
            return OP_UPDATE
        return OP_NONE

    def changed_columns(self, columns) -> list[str]:
        if self.base is None or self.deleted:
            return []
        return [c.name for c, old, new in zip(columns, self.base, self.values) if old != new]


@dataclass
class PatchedTable:
    name: str
    columns: list[Column]
    rows: dict[tuple, PatchedRow]
    action: str | None = None  # "create" / "drop"
    key_index: list[int] = field(default_factory=list)

    def __post_init__(self):
        self.key_index = [i for i, c in enumerate(self.columns) if c.key]

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def key_of(self, values) -> tuple:
        return tuple(values[i] for i in self.key_index)

    def iter_rows(self, include_deleted: bool = True) -> Iterator[PatchedRow]:
        for row in self.rows.values():
            if include_deleted or not row.deleted:
                yield row

    @property
    def row_count(self) -> int:
        """Rows of the patched table (deleted rows not counted)."""
        return sum(1 for r in self.rows.values() if not r.deleted)

    def add_column(self, column: Column) -> None:
        self.columns.append(column)
        for row in self.rows.values():
            row.values = row.values + (None,)
            if row.base is not None:
                row.base = row.base + (None,)


@dataclass
class AppliedTransform:
    label: str  # e.g. "x.msp:#T1ToU1" or "change.mst"
    transform: Transform
    issues: list[str] = field(default_factory=list)


class PatchedDatabase:
    """The base package's database plus transforms, applied in order."""

    def __init__(self, base: Package):
        if base.database is None:
            raise UsageError("the base must be an installation database (.msi/.msm), not a transform", base.path)
        self.base = base
        self.db = base.database
        self._tables: dict[str, PatchedTable] = {}
        self._created: list[str] = []
        self.applied: list[AppliedTransform] = []
        self.skipped: list[dict] = []  # transforms not applied, with the reason
        self.origins: dict[str, Package] = {}  # transform label -> the package holding its streams
        self.decisions: list[dict] = []  # per patch: which transform pairs applied and why not
        self._opened: list[Package] = []

    def keep_open(self, pkg: Package) -> None:
        """Close *pkg* together with this view."""
        self._opened.append(pkg)

    def close(self) -> None:
        for pkg in self._opened:
            pkg.close()
        self._opened.clear()

    def __enter__(self) -> PatchedDatabase:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- table access -------------------------------------------------------
    def _materialize(self, name: str) -> PatchedTable:
        table = self._tables.get(name)
        if table is None:
            base_table = self.db.table(name)
            columns = list(base_table.columns)
            rows: dict[tuple, PatchedRow] = {}
            key_idx = [i for i, c in enumerate(columns) if c.key]
            for row in base_table.rows:
                rows[tuple(row[i] for i in key_idx)] = PatchedRow(row, row)
            table = PatchedTable(name, columns, rows)
            self._tables[name] = table
        return table

    def has_table(self, name: str) -> bool:
        return name in self._tables or self.db.has_table(name)

    def table(self, name: str) -> PatchedTable:
        if name in self._tables:
            return self._tables[name]
        if not self.db.has_table(name):
            raise UsageError(f"no table named {name!r} in the base or the applied transforms", self.base.path)
        return self._materialize(name)

    @property
    def table_names(self) -> list[str]:
        return self.db.table_names + [n for n in self._created if not self.db.has_table(n)]

    def schemas(self) -> dict[str, list[Column]]:
        out = {name: self.db.schema(name) for name in self.db.table_names}
        for name, table in self._tables.items():
            out[name] = list(table.columns)
        return out

    def touched(self, name: str) -> bool:
        return name in self._tables and (self._tables[name].action is not None or
                                          any(r.op != OP_NONE for r in self._tables[name].rows.values()))

    # -- applying -------------------------------------------------------------
    def apply(self, transform: Transform, label: str, origin: Package | None = None) -> AppliedTransform:
        """Apply *transform*; *origin* is the package whose streams (patch cabinets) its rows refer to."""
        record = AppliedTransform(label, transform)
        if origin is not None:
            self.origins[label] = origin
        suppressed = set(transform.info.get("error_conditions") or [])
        changes = transform.changes(self.schemas())

        def issue(condition: str, text: str) -> None:
            prefix = "" if condition in suppressed else "Windows would stop here unless suppressed: "
            record.issues.append(f"{prefix}{text} ({condition})")

        for change in changes:
            self._apply_table(change, label, issue)
        self.applied.append(record)
        return record

    def _apply_table(self, change: TableChanges, label: str, issue) -> None:
        name = change.table
        if change.action == "create":
            if self.has_table(name) and not (name in self._tables and self._tables[name].action == "drop"):
                issue("add_existing_table", f"table {name} already exists")
                table = self.table(name)
            else:
                table = PatchedTable(name, list(change.columns), {}, action="create")
                self._tables[name] = table
                if name not in self._created:
                    self._created.append(name)
        elif change.action == "drop":
            if not self.has_table(name):
                issue("del_missing_table", f"table {name} does not exist")
                return
            table = self.table(name)
            table.action = "drop"
            for key in list(table.rows):
                row = table.rows[key]
                if row.base is None:
                    del table.rows[key]
                else:
                    row.deleted = True
                    row.sources.append(label)
            return
        else:
            if not self.has_table(name):
                # decoded only when the transform defined the table; nothing to apply to
                return
            table = self.table(name)
            for column in change.added_columns:
                if column.name not in table.column_names:
                    table.add_column(Column(column.name, column.type_word, len(table.columns) + 1))
        names = table.column_names
        for rc in change.rows:
            key = rc.key
            current = table.rows.get(key)
            live = current if current is not None and not current.deleted else None  # the row, unless deleted
            if rc.op == OP_INSERT:
                values = tuple(rc.values.get(n) for n in names)
                if live is not None:
                    issue("add_existing_row", f"{name}: row {_fmt_key(key)} already exists")
                    live.values = values
                    live.sources.append(label)
                elif current is not None:  # re-inserting a deleted base row
                    current.values, current.deleted = values, False
                    current.sources.append(label)
                else:
                    table.rows[key] = PatchedRow(None, values, sources=[label])
            elif rc.op == OP_UPDATE:
                if live is None:
                    issue("update_missing_row", f"{name}: row {_fmt_key(key)} does not exist")
                    values = tuple(rc.values.get(n) for n in names)
                    if current is not None:
                        current.values, current.deleted = values, False
                        current.sources.append(label)
                    else:
                        table.rows[key] = PatchedRow(None, values, sources=[label])
                    continue
                new = list(live.values)
                for column_name, value in rc.values.items():
                    if column_name in names:
                        new[names.index(column_name)] = value
                live.values = tuple(new)
                live.sources.append(label)
            elif rc.op == OP_DELETE:
                if live is None:
                    issue("del_missing_row", f"{name}: row {_fmt_key(key)} does not exist")
                    continue
                if live.base is None:
                    del table.rows[key]
                else:
                    live.deleted = True
                    live.sources.append(label)

    # -- output helpers ---------------------------------------------------------
    def origin_of(self, row: PatchedRow) -> Package:
        """The package a row's streams live in: the last patch that inserted or changed it, else the base."""
        for label in reversed(row.sources):
            if label in self.origins:
                return self.origins[label]
        return self.base

    def records(self, name: str) -> list[dict[str, Any]]:
        """Live rows of a table as dicts (deleted rows left out)."""
        if not self.has_table(name):
            return []
        table = self.table(name)
        names = table.column_names
        return [dict(zip(names, r.values)) for r in table.iter_rows(False)]

    def rows_with_ops(self, name: str, include_deleted: bool = True) -> list[tuple[tuple, str]]:
        table = self.table(name)
        return [(_shown_values(r), r.op) for r in table.iter_rows(include_deleted)]


def _shown_values(row: PatchedRow) -> tuple:
    """A deleted row shows its old (base) values, any other row its current ones."""
    if row.deleted:
        assert row.base is not None  # only base rows are marked deleted; deleting a new row removes it
        return row.base
    return row.values


def _fmt_key(key: tuple) -> str:
    return "/".join("" if k is None else str(k) for k in key)


def row_dicts_with_op(table: PatchedTable, include_deleted: bool = True) -> list[dict[str, Any]]:
    """Rows as dicts with the extra ``"@op"`` key (an ``@`` never occurs in an MSI column name)."""
    names = table.column_names
    out = []
    for row in table.iter_rows(include_deleted):
        item = dict(zip(names, _shown_values(row)))
        item["@op"] = row.op
        out.append(item)
    return out
