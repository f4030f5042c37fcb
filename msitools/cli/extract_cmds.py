"""``files`` and ``extract``: what a package installs, and writing it out safely."""
from __future__ import annotations

import dataclasses
import gc
import signal
import sys
from contextlib import ExitStack

import click

from msitools.base.fsutil import read_magic
from msitools.cli.common import (
    EXIT_FINDINGS,
    PATCH_OPTION,
    TRANSFORM_OPTION,
    ByteSize,
    advice,
    emit,
    format_option,
)
from msitools.cli.inspect_cmds import open_view
from msitools.container.cfb import CFB_MAGIC
from msitools.describe import cabinet_info, exe_info
from msitools.errors import HINT_TRANSFORM_REPORT, UsageError
from msitools.extract import CAB_MAGIC
from msitools.extract import extract as extract_files
from msitools.inventory import DIGESTS, hash_listing
from msitools.limits import DEFAULT_LIMITS
from msitools.payload.files import list_package_files
from msitools.render.extract import RENDERERS as EXTRACT_RENDERERS
from msitools.render.files import RENDERERS as FILES_RENDERERS
from msitools.render.files import FileList

FILE_COLUMNS = ["path", "name", "size", "version", "language", "component", "sequence", "cabinet"]
CAB_COLUMNS = ["name", "size", "date", "folder", "compression"]
PATCH_COLUMNS = ["cabinet", "name", "size", "date", "compression", "kind"]


def _hash_rows(package: str, algorithm: str, recursive: bool, patches, transforms) -> list[dict]:
    if not (patches or transforms):
        return hash_listing(package, algorithm, recursive=recursive)
    with ExitStack() as stack:
        _pkg, view = open_view(stack, package, patches, transforms)
        return hash_listing(package, algorithm, recursive=recursive, view=view)


def _package_listing(package: str, patches, transforms) -> FileList:
    with ExitStack() as stack:
        pkg, view = open_view(stack, package, patches, transforms)
        if pkg.kind == "msp":
            from msitools.patch.msp import Msp
            from msitools.patch.report import cabinet_members

            members, _issues, _by_key = cabinet_members(Msp(pkg))
            return FileList(members, PATCH_COLUMNS)
        if pkg.kind == "mst":
            raise UsageError("a transform holds no files", package, HINT_TRANSFORM_REPORT)
        listing = list_package_files(pkg, view)
        return FileList([dict(f.to_dict(), path=f.display_path) for f in listing.files],
                        FILE_COLUMNS + (["@op"] if view is not None else []))


@click.command()
@click.argument("package", type=click.Path(dir_okay=False))
@format_option(FILES_RENDERERS)
@PATCH_OPTION
@TRANSFORM_OPTION
@click.option("--hash", "algorithm", type=click.Choice(list(DIGESTS)), default=None,
              help="The digest of every payload file's bytes (read, streamed), instead of the File table columns.")
@click.option("--recursive", is_flag=True, help="With --hash: also the files of packages inside the package.")
def files(package: str, fmt: str, patches, transforms, algorithm: str | None, recursive: bool) -> None:
    """One row per file: install path, name, size, version, language, component, sequence, cabinet.

    A .cab lists its members; an .msp lists its patch cabinet members.  --hash ALG lists
    where each file was found, its path, size and digest (an unreadable file says why).
    """
    if algorithm is not None:
        rows = _hash_rows(package, algorithm, recursive, patches, transforms)
        emit(FILES_RENDERERS, fmt, FileList(rows, ["where", "path", "size", algorithm, "error"]))
        return
    if recursive:
        raise click.UsageError("--recursive lists nested packages' files with --hash")
    magic = read_magic(package)
    if magic[:4] == CAB_MAGIC:
        listing = FileList(cabinet_info(package)["members"], CAB_COLUMNS)
    elif magic == CFB_MAGIC:
        listing = _package_listing(package, patches, transforms)
    elif magic[:2] == b"MZ":
        listing = FileList(exe_info(package)["members"], ["name", "size", "date", "container"])
    else:
        raise UsageError("not a Windows Installer package, a cabinet or an executable container", package)
    emit(FILES_RENDERERS, fmt, listing)


@click.command()
@click.argument("package", type=click.Path(dir_okay=False))
@click.argument("names", nargs=-1, metavar="[NAME|GLOB]...")
@click.option("-o", "--output", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Folder to extract into (created if missing).")
@click.option("--include", "includes", multiple=True, metavar="GLOB",
              help="Write only files whose name (or, with a / in the pattern, path) matches; repeatable.")
@click.option("--flat", is_flag=True, help="Write every file directly in the folder, by its name.")
@click.option("--recursive", is_flag=True, help="Also open payload files that are packages or cabinets.")
@click.option("--force", is_flag=True, help="Overwrite existing files.")
@click.option("--skip-existing", is_flag=True,
              help="Keep files already there with the right size (resume an interrupted run).")
@click.option("--backend", type=click.Choice(["auto", "python", "libarchive"]), default="auto", show_default=True,
              help="Cabinet decoder.")
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=None,
              help="Processes writing files [default: one per core (up to 4) for a big package].")
@click.option("--max-output", type=ByteSize(), default=None,
              help=f"Most bytes decoded from one cabinet set, against decompression bombs "
                   f"[default: {DEFAULT_LIMITS.decompressed_total >> 30}G].")
@click.option("--max-ratio", type=click.IntRange(min=1), default=None,
              help=f"Highest compression ratio a folder may show once it has produced 1 MiB "
                   f"[default: {DEFAULT_LIMITS.compression_ratio}].")
@PATCH_OPTION
@TRANSFORM_OPTION
@format_option(EXTRACT_RENDERERS, output="--report", force=False)
def extract(package: str, names, out_dir: str, includes, flat: bool, recursive: bool, force: bool,
            skip_existing: bool, backend: str, jobs, max_output, max_ratio, patches, transforms, fmt: str) -> None:
    """Extract a package's files (SourceDir/... layout), a patch's payload, or a cabinet's members.

    NAMEs or GLOBs (and --include) write only the matching files.  Exit 0 when every
    file was written, 1 when some could not be (a damaged package: the intact files are
    written, each damaged one is named with the reason), 2 when nothing could be done.
    """
    if force and skip_existing:
        raise click.UsageError("--force and --skip-existing exclude each other")
    limits = DEFAULT_LIMITS
    if max_output is not None:
        limits = dataclasses.replace(limits, decompressed_total=max_output)
    if max_ratio is not None:
        limits = dataclasses.replace(limits, compression_ratio=max_ratio)
    # extraction builds tens of thousands of small objects (rows, cabinet members, file records) that
    # form no cycles: collect cycles rarely, or the collector keeps walking them (~30% of a big run)
    gc.set_threshold(100_000, 50, 100)
    state: dict = {}

    def progress(name: str, total: int) -> None:
        """A click progress bar on a terminal, one per container (nested packages get their own)."""
        bar = state.get("bar")
        if bar is None or state.get("total") != total or bar.pos >= total:
            if bar is not None:
                bar.__exit__(None, None, None)
            bar = click.progressbar(length=total, label="extracting", file=sys.stderr, show_pos=True)
            bar.__enter__()
            state.update(bar=bar, total=total)
        bar.update(1)

    previous = signal.signal(signal.SIGTERM, _terminate)  # unwinds like Ctrl-C: no .part file is left
    try:
        report = extract_files(package, out_dir, flat=flat, recursive=recursive, force=force,
                               skip_existing=skip_existing, select=list(names) + list(includes), patches=patches,
                               transforms=transforms, backend=backend, jobs=jobs, limits=limits,
                               progress=progress if sys.stderr.isatty() and fmt == "text" else None)
    finally:
        signal.signal(signal.SIGTERM, previous)
        if state.get("bar") is not None:
            state["bar"].__exit__(None, None, None)
    if fmt != "json":
        for issue in report.issues:
            click.echo(f"note: {issue}", err=True)
    emit(EXTRACT_RENDERERS, fmt, report)
    failures = report.all_failures()
    if failures:
        shown = "; ".join(f"{f['file']}: {f['error']}" for f in failures[:3])
        more = f" (and {len(failures) - 3} more)" if len(failures) > 3 else ""
        hints = [option for limit, option in (("decompressed_total", "--max-output"),
                                               ("compression_ratio", "--max-ratio"))
                 if any(f"{limit} limit exceeded" in f["error"] for f in failures)]
        if hints:
            more += f" (if the package is trusted, raise the limit with {' / '.join(hints)})"
        elif any(f.get("hint") for f in failures):
            more += advice(next(f["hint"] for f in failures if f.get("hint")))
        click.echo(f"msitools: error: {package}: {len(failures)} file(s) could not be extracted: {shown}{more}",
                   err=True)
        sys.exit(EXIT_FINDINGS)


def _terminate(signum, frame) -> None:
    raise KeyboardInterrupt


COMMANDS = [files, extract]
