"""``transform``, ``patch`` and the ``--patch``/``--transform`` views of ``table``/``tables``."""
from __future__ import annotations

import os
from contextlib import ExitStack

import click

from msitools.errors import UsageError
from msitools.db.package import open_package
from msitools.patch.msp import Msp, apply_patches_and_transforms
from msitools.patch.report import patch_report
from msitools.db.patched import PatchedDatabase, row_dicts_with_op
from msitools.render.patch import OP_MARK, render_patch_text, render_transform_text
from msitools.db.transform import Transform, transform_report
from msitools.cli.common import echo_text, emit_json, format_option, render_csv, render_table



def open_patched(stack: ExitStack, base_path: str, patches, transforms) -> PatchedDatabase:
    base = stack.enter_context(open_package(base_path))
    return stack.enter_context(apply_patches_and_transforms(base, patches, transforms))


def table_view(base_path: str, name: str, patches, transforms, fmt: str) -> None:
    with ExitStack() as stack:
        view = open_patched(stack, base_path, patches, transforms)
        table = view.table(name)
        rows = row_dicts_with_op(table)
        if fmt == "json":
            emit_json({"table": name, "action": table.action,
                       "columns": [c.describe() for c in table.columns], "rows": rows})
            return
        headers = ["@op"] + table.column_names
        data = [[r["@op"]] + [r[c] for c in table.column_names] for r in rows]
        if fmt == "csv":
            echo_text(render_csv(headers, data))
        elif fmt == "idt":
            raise UsageError("--format idt shows stored tables; use json, csv or text with --patch/--transform")
        else:
            echo_text(render_table(["op"] + table.column_names,
                                   [[OP_MARK[r["@op"]]] + [r[c] for c in table.column_names] for r in rows]))


def tables_view(base_path: str, patches, transforms, fmt: str) -> None:
    with ExitStack() as stack:
        view = open_patched(stack, base_path, patches, transforms)
        out = []
        for name in view.table_names:
            table = view.table(name)
            counts = {"insert": 0, "update": 0, "delete": 0}
            for row in table.iter_rows():
                if row.op in counts:
                    counts[row.op] += 1
            out.append({"name": name, "rows": table.row_count, "columns": table.column_names,
                        "action": table.action, "changes": counts})
    if fmt == "json":
        emit_json({"tables": out})
        return
    rows = [(t["name"], t["rows"], len(t["columns"]), t["action"] or "",
             t["changes"]["insert"], t["changes"]["update"], t["changes"]["delete"]) for t in out]
    headers = ["table", "rows", "columns", "action", "inserted", "updated", "deleted"]
    echo_text(render_csv(headers, rows) if fmt == "csv" else render_table(headers, rows))


@click.command()
@click.argument("mst", type=click.Path(dir_okay=False))
@click.option("--base", type=click.Path(dir_okay=False), help="Base package: real schemas, old values.")
@format_option(["text", "json"])
def transform(mst: str, base: "str | None", fmt: str) -> None:
    """A transform's summary and its changes, table by table."""
    with ExitStack() as stack:
        pkg = stack.enter_context(open_package(mst))
        if pkg.kind != "mst":
            raise UsageError(f"not a transform but a {pkg.kind} (for a patch use `msitools patch`)", mst)
        base_db = None
        if base:
            base_pkg = stack.enter_context(open_package(base))
            if base_pkg.database is None:
                raise UsageError("the base must be an .msi or .msm", base)
            base_db = base_pkg.database
        report = transform_report(Transform(pkg.cfb, pkg.cfb.root, os.path.basename(mst), mst, pkg.limits), base_db)
    if fmt == "json":
        emit_json(report)
        return
    echo_text(render_transform_text(report))


@click.command()
@click.argument("msp", type=click.Path(dir_okay=False))
@click.option("--base", type=click.Path(dir_okay=False), help="Target package: applicability, real schemas, paths.")
@format_option(["text", "json"])
def patch(msp: str, base: "str | None", fmt: str) -> None:
    """The patch report: targets, metadata, transform pairs, payload, files and tables changed."""
    with ExitStack() as stack:
        pkg = stack.enter_context(open_package(msp))
        base_pkg = stack.enter_context(open_package(base)) if base else None
        report = patch_report(Msp(pkg), base_pkg)
    if fmt == "json":
        emit_json(report)
        return
    echo_text(render_patch_text(report))


COMMANDS = [transform, patch]
