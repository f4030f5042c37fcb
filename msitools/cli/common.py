"""Shared pieces of the CLI: error handling, output formats, opening packages."""
from __future__ import annotations

import csv
import io
import json
import sys
from typing import Any, Callable, Iterable, Sequence

import click

from ..errors import MsiToolsError

FORMATS_TEXT_JSON = ["text", "json"]
EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_BAD_INPUT = 2


class MsiToolsGroup(click.Group):
    """A click group that turns library errors into one line on stderr and exit code 2."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except MsiToolsError as exc:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            click.echo(f"msitools: error: {exc}", err=True)
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


PATCH_OPTION = click.option("--patch", "patches", multiple=True, type=click.Path(dir_okay=False),
                            help="Apply this .msp (repeatable; after all --transform files, in order).")
TRANSFORM_OPTION = click.option("--transform", "transforms", multiple=True, type=click.Path(dir_okay=False),
                                help="Apply this .mst (repeatable; in order, before patches, as Windows does).")


def format_option(choices: Sequence[str], default: str = "text"):
    return click.option("--format", "fmt", type=click.Choice(list(choices)), default=default,
                        show_default=True, help="Output format.")


def printable(value: Any) -> str:
    """Text-mode rendering of a value: NULL as empty, control characters escaped."""
    if value is None:
        return ""
    text = str(value)
    if any(ord(ch) < 32 for ch in text):
        text = "".join(ch if ord(ch) >= 32 else f"\\x{ord(ch):02x}" for ch in text)
    return text


def show_value(value: Any) -> str:
    """A value in a sentence: NULL, numbers bare, strings quoted."""
    if value is None:
        return "NULL"
    if isinstance(value, str):
        return repr(printable(value))
    return str(value)


def parse_name_argument(name: str) -> str:
    r"""Accept ``\x05SummaryInformation`` typed literally on a command line."""
    if "\\x" in name:
        try:
            return name.encode("latin-1", "backslashreplace").decode("unicode_escape")
        except UnicodeDecodeError:
            return name
    return name


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=_json_default))


def _json_default(value: Any):
    if isinstance(value, (bytes, bytearray)):
        return value.hex()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def render_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    from tabulate import tabulate

    return tabulate([[printable(v) for v in row] for row in rows], headers=list(headers),
                    tablefmt="simple", disable_numparse=True)


def render_csv(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(headers)
    for row in rows:
        writer.writerow(["" if v is None else v for v in row])
    return buf.getvalue()


def echo_text(text: str) -> None:
    click.echo(text, nl=not text.endswith("\n"))


def write_binary_stdout(chunks: Iterable[bytes]) -> None:
    out = sys.stdout.buffer
    for chunk in chunks:
        out.write(chunk)
    out.flush()


def key_value_lines(pairs: Iterable[tuple[str, Any]]) -> str:
    pairs = list(pairs)
    width = max((len(k) for k, _ in pairs), default=0)
    return "\n".join(f"{k + ':':<{width + 1}} {printable(v)}" for k, v in pairs)


Renderer = Callable[[], str]
