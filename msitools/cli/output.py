"""Where a report goes and in which format: ``--format``, ``-o FILE`` and ``--force`` for every report.

* ``--format`` may be left out: it is then taken from the extension of ``-o``
  (:data:`EXTENSION_FORMATS`), else ``text``; a format that contradicts the
  extension is an error that says so, as is an extension the command cannot write;
* ``-o FILE`` writes atomically (a temporary file renamed into place), creates
  missing parent folders and refuses to replace a file without ``--force``;
* on a terminal, text reports fit its width (at most 100 columns) and carry colour
  unless ``NO_COLOR`` is set; piped or written to a file they never do.
"""
from __future__ import annotations

import functools
import os
import shutil
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from msitools.base.fsutil import write_file
from msitools.errors import ExtractionError, UsageError
from msitools.render import Registry, formats, render
from msitools.render.options import RenderOptions, color_wanted

F = TypeVar("F", bound=Callable[..., Any])

EXTENSION_FORMATS = {".html": "html", ".htm": "html", ".md": "markdown", ".markdown": "markdown",
                     ".xml": "junit", ".json": "json", ".txt": "text", ".text": "text", ".csv": "csv",
                     ".idt": "idt"}
_META = "msitools.output"
MAX_WIDTH = 100


def resolve_format(registry: Registry, fmt: str | None, output: str | None) -> str:
    """The format to write: the one asked for, else the one *output*'s extension names, else text."""
    allowed = formats(registry)
    inferred = EXTENSION_FORMATS.get(os.path.splitext(output)[1].lower()) if output else None
    if fmt is None:
        if inferred is None:
            return "text" if "text" in allowed else allowed[0]
        if inferred not in allowed:
            raise UsageError(f"this command cannot write {inferred} (it writes {', '.join(allowed)}); "
                             "choose another extension or --format", output)
        return inferred
    if inferred is not None and inferred != fmt:
        raise UsageError(f"--format {fmt} does not match the file's extension, which names {inferred}; "
                         "change the extension or the format", output)
    return fmt


def format_option(registry: Registry, output: str | None = "-o", force: bool = True) -> Callable[[F], F]:
    """``--format`` (the registry's formats plus json), with ``-o/--output FILE`` and ``--force``.

    *output*: the option that names the report file (``--report`` where ``-o`` is taken);
    None for no file option.  *force*: add ``--force`` (False when the command has its own,
    which then also allows replacing the report).  The command receives the resolved ``fmt``.
    """
    def decorate(fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, fmt: str | None, report_out: str | None = None, report_force: bool = False,
                    **kwargs: Any) -> Any:
            resolved = resolve_format(registry, fmt, report_out)
            click.get_current_context().meta[_META] = (report_out, report_force or bool(kwargs.get("force")))
            return fn(*args, fmt=resolved, **kwargs)

        names = ", ".join(formats(registry))
        decorated = click.option("--format", "fmt", type=click.Choice(formats(registry)), default=None,
                                 help=f"Output format ({names}) [default: from the -o file's extension, else text]."
                                 )(wrapper)
        if output is not None:
            flags = [output, "--output"] if output == "-o" else [output]
            decorated = click.option(*flags, "report_out", type=click.Path(dir_okay=False), default=None,
                                     help="Write the report to this file (atomically; parent folders are "
                                          "created).")(decorated)
            if force:
                decorated = click.option("--force", "report_force", is_flag=True,
                                         help="Replace the report file if it exists.")(decorated)
        return decorated  # type: ignore[return-value]

    return decorate


def terminal_options(details: bool = False) -> RenderOptions:
    """Colour and width for standard output as it is now (a terminal or not)."""
    try:
        tty = sys.stdout.isatty()
    except (AttributeError, ValueError):
        tty = False
    width = min(MAX_WIDTH, shutil.get_terminal_size((MAX_WIDTH, 24)).columns) if tty else MAX_WIDTH
    return RenderOptions(color=color_wanted(tty), width=max(60, width), details=details)


def write_report(path: str, text: str, force: bool) -> None:
    """Write a report atomically, creating missing parent folders; never replace a file without *force*."""
    parent = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(parent, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create the folder {parent}: {exc.strerror or exc}", path) from None
    if os.path.isdir(path):
        raise UsageError("is a folder; give a file name for the report", path)
    if os.path.lexists(path) and not force:
        raise UsageError("already exists (use --force to replace the report)", path)
    try:
        write_file(path, text.encode("utf-8"), force=force)
    except ExtractionError as exc:
        raise UsageError(exc.message, path) from None


def emit(registry: Registry, fmt: str, report: Any, *, details: bool = False,
         written: Callable[[str], str] | None = None) -> str | None:
    """Render *report* to the ``-o`` file of the command, or to standard output.

    Returns the report file's path when one was written.  *written* gives the line
    printed on standard output after writing it (default: a note on standard error).
    """
    ctx = click.get_current_context(silent=True)
    out, force = ctx.meta.get(_META, (None, False)) if ctx is not None else (None, False)
    if out:
        write_report(out, render(registry, fmt, report, RenderOptions(details=details)), force)
        if written is not None:
            click.echo(written(out))
        else:
            click.echo(f"{fmt} report written to {out}", err=True)
        return out
    options = terminal_options(details)
    click.echo(render(registry, fmt, report, options), nl=False, color=options.color or None)
    return None
