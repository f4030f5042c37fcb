"""Where the review reads rows from: a package, a patched view (changed rows only), or a patch's transforms."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from msitools.db.directory import DirectoryTree, long_file_name, resolve_directories
from msitools.db.package import Package
from msitools.db.patched import PatchedDatabase

Rows = Callable[[str], list[tuple[dict[str, Any], str]]]


@dataclass
class Source:
    """*rows*: table -> [(record, op)] (op ``none`` for a plain package); *binary*: Binary.<key> bytes;
    *all_rows*: every row of a table, changed or not (to resolve directories and components)."""

    rows: Rows
    binary: Callable[[str], bytes | None]
    scope: str
    all_rows: Rows | None = None
    _tree: DirectoryTree | None = field(default=None, repr=False)
    _components: dict[Any, Any] | None = field(default=None, repr=False)

    def every(self, table: str) -> list[tuple[dict[str, Any], str]]:
        return (self.all_rows or self.rows)(table)

    @property
    def tree(self) -> DirectoryTree:
        if self._tree is None:
            rows = self.every("Directory")
            self._tree = resolve_directories((r.get("Directory"), r.get("Directory_Parent"), r.get("DefaultDir"))
                                             for r, _ in rows)
        return self._tree

    def directory_path(self, directory: Any) -> str:
        """A Directory key as the install path ``files`` shows (``SourceDir\\PFiles\\App``)."""
        if not directory:
            return ""
        return self.tree.display(str(directory))

    def component_directory(self, component: Any) -> Any:
        if self._components is None:
            self._components = {r.get("Component"): r.get("Directory_") for r, _ in self.every("Component")}
        return self._components.get(component)

    def file_path(self, record: dict[str, Any]) -> str:
        """A File row's install path."""
        name = long_file_name(record.get("FileName")) if record.get("FileName") else str(record.get("File"))
        folder = self.directory_path(self.component_directory(record.get("Component_")))
        return f"{folder}\\{name}" if folder else name


def package_source(pkg: Package) -> Source:
    def rows(name: str) -> list[tuple[dict[str, Any], str]]:
        table = pkg.get_table(name)
        return [(r, "none") for r in table.records()] if table is not None else []

    def binary(key: str) -> bytes | None:
        info = pkg.find_stream(f"Binary.{key}")
        return pkg.read_stream(info.name) if info is not None else None

    return Source(rows, binary, "package")


def view_source(view: PatchedDatabase) -> Source:
    def table_rows(name: str, changed_only: bool) -> list[tuple[dict[str, Any], str]]:
        if not view.has_table(name):
            return []
        table = view.table(name)
        names = table.column_names
        return [(dict(zip(names, (r.base if r.deleted else r.values) or ())), r.op) for r in table.iter_rows()
                if not changed_only or r.op != "none"]

    def binary(key: str) -> bytes | None:
        table = view.table("Binary") if view.has_table("Binary") else None
        row = table.rows.get((key,)) if table is not None else None
        if row is None:
            return None
        origin = view.origin_of(row)
        for candidate in [origin, view.base]:
            info = candidate.find_stream(f"Binary.{key}")
            if info is not None:
                return candidate.read_stream(info.name)
        for record in view.applied:  # binary cells added by a transform live in its storage
            data = record.transform.read_stream(f"Binary.{key}")
            if data is not None:
                return data
        return None

    return Source(lambda name: table_rows(name, True), binary, "changes applied by the patch/transform",
                  lambda name: table_rows(name, False))


def patch_source(msp: Any) -> Source:
    changes = [(t, c) for t in msp.transforms for c in t.changes()]

    def rows(name: str) -> list[tuple[dict[str, Any], str]]:
        out: list[tuple[dict[str, Any], str]] = []
        for _t, change in changes:
            if change.table == name:
                out.extend((dict(rc.values), rc.op) for rc in change.rows if rc.op in ("insert", "update"))
        return out

    def binary(key: str) -> bytes | None:
        for t, _ in changes:
            data = t.read_stream(f"Binary.{key}")
            if data is not None:
                return data
        return None

    return Source(rows, binary, "rows the patch inserts or updates (no base given)")
