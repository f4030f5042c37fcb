"""``info``, ``tables``, ``table``, ``streams``, ``stream``, ``export``: reading packages."""
from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

import click

from msitools.base.fsutil import read_magic, write_file
from msitools.cli.common import (
    PATCH_OPTION,
    TRANSFORM_OPTION,
    emit,
    format_option,
    is_cabinet,
    parse_name_argument,
    write_binary_stdout,
)
from msitools.db.package import open_package
from msitools.describe import (
    TableReport,
    cabinet_info,
    exe_info,
    package_info,
    patched_tables_list,
    streams_list,
    tables_list,
)
from msitools.errors import UsageError
from msitools.export import export_package
from msitools.render.package import INFO_RENDERERS, STREAMS_RENDERERS, TABLE_RENDERERS, TABLES_RENDERERS

PKG = click.argument("package", type=click.Path(dir_okay=False, path_type=str))


def open_view(stack: ExitStack, package: str, patches: tuple[str, ...], transforms: tuple[str, ...]):
    """The package, or its patched view with --patch/--transform (closed with *stack*)."""
    pkg = stack.enter_context(open_package(package))
    if not (patches or transforms):
        return pkg, None
    from msitools.patch.msp import apply_patches_and_transforms

    return pkg, stack.enter_context(apply_patches_and_transforms(pkg, patches, transforms))


@click.command()
@PKG
@format_option(INFO_RENDERERS)
def info(package: str, fmt: str) -> None:
    """Kind, decoded summary information, tables with row counts, streams and substorages.

    A cabinet: its header, the rest of its set, its folders (compression) and members.
    """
    if is_cabinet(package):
        data = cabinet_info(package)
    elif read_magic(package)[:2] == b"MZ":
        data = exe_info(package)
    else:
        with open_package(package) as pkg:
            data = package_info(pkg)
    emit(INFO_RENDERERS, fmt, data)


@click.command()
@PKG
@format_option(TABLES_RENDERERS)
@PATCH_OPTION
@TRANSFORM_OPTION
def tables(package: str, fmt: str, patches, transforms) -> None:
    """List the tables with their row and column counts (of the patched database with --patch/--transform)."""
    with ExitStack() as stack:
        pkg, view = open_view(stack, package, patches, transforms)
        data = patched_tables_list(view) if view is not None else tables_list(pkg)
    emit(TABLES_RENDERERS, fmt, data)


@click.command()
@PKG
@click.argument("name")
@format_option(TABLE_RENDERERS)
@PATCH_OPTION
@TRANSFORM_OPTION
def table(package: str, name: str, fmt: str, patches, transforms) -> None:
    """Show one table: its columns and typed rows.

    With --patch/--transform, the table as patched, each row marked with its
    operation ("@op" in JSON: insert, update, delete or none).
    """
    with ExitStack() as stack:
        pkg, view = open_view(stack, package, patches, transforms)
        report = TableReport.patched(view.table(name)) if view is not None else TableReport.of(pkg.table(name))
        emit(TABLE_RENDERERS, fmt, report)


@click.command()
@PKG
@format_option(STREAMS_RENDERERS)
def streams(package: str, fmt: str) -> None:
    """List the non-table streams (binary data, cabinets, summary, signature) and substorages."""
    with open_package(package) as pkg:
        data = streams_list(pkg)
    emit(STREAMS_RENDERERS, fmt, data)


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
