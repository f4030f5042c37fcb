"""``diff``: two packages, a package and its patched self, or two patches."""
from __future__ import annotations

import sys

import click

from msitools.cli.common import EXIT_FINDINGS, PATCH_OPTION, TRANSFORM_OPTION, emit, format_option
from msitools.diff import diff_files
from msitools.render.diff import RENDERERS


@click.command()
@click.argument("old", type=click.Path(dir_okay=False))
@click.argument("new", type=click.Path(dir_okay=False), required=False)
@PATCH_OPTION
@TRANSFORM_OPTION
@format_option(RENDERERS)
def diff(old: str, new: str | None, patches, transforms, fmt: str) -> None:
    """What differs between OLD and NEW: tables (rows by primary key, column by column), summary
    information, streams, payload files (size, version, SHA-256), custom actions, signatures.

    --patch/--transform apply to NEW (to OLD itself when NEW is left out: the package
    against its patched self).  Exit 0 when identical, 1 when different, 2 when a
    package cannot be read.
    """
    if new is None and not (patches or transforms):
        raise click.UsageError("give NEW, or --patch/--transform to compare OLD with its patched self")
    report = diff_files(old, new, patches=patches, transforms=transforms)
    emit(RENDERERS, fmt, report)
    if not report["identical"]:
        sys.exit(EXIT_FINDINGS)


COMMANDS = [diff]
