"""``info``, ``tables``, ``table``, ``streams``, ``stream``, ``export``: reading packages."""
from __future__ import annotations

from pathlib import Path

import click

from msitools.db import idt
from msitools.export import export_package
from msitools.base.fsutil import write_file
from msitools.db.package import open_package
from msitools.render.package import package_info, table_dict, tables_list
from msitools.cli.common import (
    PATCH_OPTION,
    TRANSFORM_OPTION,
    echo_text,
    emit_json,
    format_option,
    key_value_lines,
    parse_name_argument,
    printable,
    render_csv,
    render_table,
    write_binary_stdout,
)

PKG = click.argument("package", type=click.Path(dir_okay=False, path_type=str))


def _list(value) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) if value else "-"
    return value


@click.command()
@PKG
@format_option(["text", "json"])
def info(package: str, fmt: str) -> None:
    """Kind, decoded summary information, tables with row counts, streams and substorages."""
    with open_package(package) as pkg:
        data = package_info(pkg)
    if fmt == "json":
        emit_json(data)
        return
    lines = [f"{data['path']}: {data['kind'].upper()}", "", "Summary information:"]
    lines.append(key_value_lines((k.replace("_", " "), _list(v)) for k, v in data["summary"].items()))
    lines += ["", f"Tables ({len(data['tables'])}):"]
    lines.append(render_table(["table", "rows"], data["tables"].items()) if data["tables"] else "  (none)")
    lines += ["", f"Streams ({len(data['streams'])}):"]
    lines.append(render_table(["stream", "size"], [(s["name"], s["size"]) for s in data["streams"]])
                 if data["streams"] else "  (none)")
    lines += ["", f"Substorages ({len(data['storages'])}):"]
    lines.append(render_table(["storage", "class"], [(s["name"], s["clsid"]) for s in data["storages"]])
                 if data["storages"] else "  (none)")
    if data["issues"]:
        lines += ["", "Issues:"] + [f"  - {i}" for i in data["issues"]]
    echo_text("\n".join(lines))


@click.command()
@PKG
@format_option(["text", "json", "csv"])
@PATCH_OPTION
@TRANSFORM_OPTION
def tables(package: str, fmt: str, patches, transforms) -> None:
    """List the tables with their row and column counts (of the patched database with --patch/--transform)."""
    if patches or transforms:
        from msitools.cli.patch_cmds import tables_view

        tables_view(package, patches, transforms, fmt)
        return
    with open_package(package) as pkg:
        data = tables_list(pkg)
    rows = [(t["name"], t["rows"], len(t["columns"])) for t in data["tables"]]
    if fmt == "json":
        emit_json(data)
    elif fmt == "csv":
        echo_text(render_csv(["name", "rows", "columns"], rows))
    else:
        echo_text(render_table(["table", "rows", "columns"], rows))


@click.command()
@PKG
@click.argument("name")
@format_option(["text", "json", "csv", "idt"])
@PATCH_OPTION
@TRANSFORM_OPTION
def table(package: str, name: str, fmt: str, patches, transforms) -> None:
    """Show one table: its columns and typed rows.

    With --patch/--transform, the table as patched, each row marked with its
    operation ("@op" in JSON: insert, update, delete or none).
    """
    if patches or transforms:
        from msitools.cli.patch_cmds import table_view

        table_view(package, name, patches, transforms, fmt)
        return
    with open_package(package) as pkg:
        tbl = pkg.table(name)
        rows = tbl.rows
        if fmt == "json":
            emit_json(table_dict(tbl, rows))
        elif fmt == "csv":
            echo_text(render_csv(tbl.column_names, rows))
        elif fmt == "idt":
            click.echo(idt.table_text(tbl.name, tbl.columns, rows), nl=False)
        else:
            echo_text(render_table(tbl.column_names, rows))


@click.command()
@PKG
@format_option(["text", "json", "csv"])
def streams(package: str, fmt: str) -> None:
    """List the non-table streams (binary data, cabinets, summary, signature) and substorages."""
    with open_package(package) as pkg:
        data = {"streams": [{"name": s.name, "size": s.size} for s in pkg.streams],
                "storages": [s.name for s in pkg.storages]}
    if fmt == "json":
        emit_json(data)
    elif fmt == "csv":
        echo_text(render_csv(["name", "size"], [(s["name"], s["size"]) for s in data["streams"]]))
    else:
        text = render_table(["stream", "size"], [(s["name"], s["size"]) for s in data["streams"]])
        if data["storages"]:
            text += "\n\nSubstorages: " + ", ".join(printable(s) for s in data["storages"])
        echo_text(text)


@click.command()
@PKG
@click.argument("name")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=str), required=True,
              help="File to write ('-' for standard output).")
@click.option("--force", is_flag=True, help="Overwrite an existing output file.")
def stream(package: str, name: str, output: str, force: bool) -> None:
    """Write one stream's bytes (e.g. an embedded cabinet) to a file.

    NAME may also be a substorage (an .msp's transform, e.g. ':#T1ToU1' or '#T1ToU1'):
    it is written as a standalone compound file (an .mst).
    """
    name = parse_name_argument(name)
    with open_package(package) as pkg:
        info_ = pkg.find_stream(name)
        if info_ is None and not name.startswith("\x05") and pkg.find_stream("\x05" + name):
            info_ = pkg.find_stream("\x05" + name)
        storage = name[1:] if name.startswith(":") else name
        if info_ is None and storage in pkg.storage_names:
            data = pkg.storage_bytes(storage)
            if output == "-":
                write_binary_stdout([data])
            else:
                write_file(output, data, force=force)
            return
        if info_ is None:
            from msitools.errors import UsageError

            raise UsageError(f"no stream or substorage named {name!r} (see `msitools streams`)", package)
        with pkg.cfb.open_stream(info_.entry) as reader:
            chunks = iter(lambda: reader.read(1 << 20), b"")
            if output == "-":
                write_binary_stdout(chunks)
            else:
                write_file(output, chunks, expected_size=info_.size, force=force)


@click.command()
@PKG
@click.option("-o", "--output", "out_dir", type=click.Path(file_okay=False, path_type=str), required=True,
              help="Folder to write the .idt files and _Streams/ into.")
@click.option("--force", is_flag=True, help="Overwrite existing files in the folder.")
@click.option("--no-streams", is_flag=True, help="Tables only.")
def export(package: str, out_dir: str, force: bool, no_streams: bool) -> None:
    """Every table as an .idt file and every stream as a file (like `msidump -t -s -d`)."""
    with open_package(package) as pkg:
        written = export_package(pkg, Path(out_dir), force=force, streams=not no_streams)
    click.echo(f"wrote {len(written)} files to {out_dir}", err=True)


COMMANDS = [info, tables, table, streams, stream, export]
