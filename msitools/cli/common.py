"""Shared pieces of the CLI: error handling, output formats, opening packages."""
from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import click

from msitools.base.fsutil import read_magic
from msitools.cli.output import emit, format_option
from msitools.errors import (
    HINT_NEEDS_PATCH,
    HINT_NEEDS_TRANSFORM,
    HINT_OVERWRITE,
    HINT_RAISE_LIMIT,
    HINT_TRANSFORM_REPORT,
    MsiToolsError,
)

F = TypeVar("F", bound=Callable[..., Any])

__all__ = ["EXIT_BAD_INPUT", "EXIT_FINDINGS", "EXIT_OK", "PATCH_OPTION", "TRANSFORM_OPTION", "ByteSize",
           "MsiToolsGroup", "advice", "echo_text", "emit", "format_option", "parse_name_argument",
           "write_binary_stdout"]

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_BAD_INPUT = 2
_SIZE_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


class ByteSize(click.ParamType):
    """A size in bytes: ``1048576``, ``512K``, ``64M``, ``2G``, ``1T`` (powers of 1024; ``KiB``/``KB`` too)."""

    name = "size"

    def convert(self, value, param, ctx):
        if isinstance(value, int):
            return value
        text = str(value).strip().upper().removesuffix("IB").removesuffix("B")
        unit = text[-1:] if text[-1:] in _SIZE_UNITS else ""
        number = text[: len(text) - len(unit)].strip()
        if not number.isdigit():
            self.fail(f"{value!r} is not a size (examples: 1048576, 512K, 64M, 2G)", param, ctx)
        size = int(number) * _SIZE_UNITS[unit]
        if size <= 0:
            self.fail("a size must be above zero", param, ctx)
        return size


def is_cabinet(path: str) -> bool:
    return read_magic(path)[:4] == b"MSCF"


class MsiToolsGroup(click.Group):
    """A click group that turns library errors into one line on stderr and exit code 2."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except MsiToolsError as exc:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            click.echo(f"msitools: error: {exc}{advice(exc.hint)}", err=True)
            ctx.exit(EXIT_BAD_INPUT)
        except OSError as exc:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
            click.echo(f"msitools: error: {where}{exc.strerror or exc}", err=True)
            ctx.exit(EXIT_BAD_INPUT)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException, SystemExit):
            raise
        except KeyboardInterrupt:
            click.echo("msitools: interrupted", err=True)
            ctx.exit(130)
        except Exception as exc:  # a bug or an input we failed to classify: still one line
            if ctx.obj and ctx.obj.get("debug"):
                raise
            click.echo(f"msitools: error: unexpected {exc.__class__.__name__}: {exc} (rerun with --debug)",
                       err=True)
            ctx.exit(EXIT_BAD_INPUT)


# what the command line suggests for an error's hint (msitools.errors.HINT_*)
ADVICE = {
    HINT_OVERWRITE: " (use --force to overwrite, or --skip-existing to keep what is there)",
    HINT_TRANSFORM_REPORT: "; use `msitools transform` to see its changes",
    HINT_NEEDS_TRANSFORM: " (--transform takes an .mst)",
    HINT_NEEDS_PATCH: " (--patch takes an .msp)",
    HINT_RAISE_LIMIT: " (if the input is trusted, raise the limit)",
}


def advice(hint: str | None) -> str:
    """The command line's advice for an error hint ("" when there is none)."""
    return ADVICE.get(hint or "", "")


PATCH_OPTION = click.option("--patch", "patches", multiple=True, type=click.Path(dir_okay=False),
                            help="Apply this .msp (repeatable; after all --transform files, in order).")
TRANSFORM_OPTION = click.option("--transform", "transforms", multiple=True, type=click.Path(dir_okay=False),
                                help="Apply this .mst (repeatable; in order, before patches, as Windows does).")


def parse_name_argument(name: str) -> str:
    r"""Accept ``\x05SummaryInformation`` typed literally on a command line."""
    if "\\x" in name:
        try:
            return name.encode("latin-1", "backslashreplace").decode("unicode_escape")
        except UnicodeDecodeError:
            return name
    return name


def echo_text(text: str) -> None:
    click.echo(text, nl=not text.endswith("\n"))


def write_binary_stdout(chunks: Iterable[bytes]) -> None:
    out = sys.stdout.buffer
    for chunk in chunks:
        out.write(chunk)
    out.flush()


