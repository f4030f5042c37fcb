"""``signature`` and ``review``: who signed a package, whether it is intact, and what it will run."""
from __future__ import annotations

import sys
from contextlib import ExitStack

import click

from msitools.cli.common import EXIT_FINDINGS, PATCH_OPTION, TRANSFORM_OPTION, emit, format_option
from msitools.cli.inspect_cmds import open_view
from msitools.db.package import open_package
from msitools.pe.authenticode_msi import signature_report
from msitools.render.review import REVIEW_RENDERERS, SIGNATURE_RENDERERS
from msitools.review import review as review_package


@click.command()
@click.argument("package", type=click.Path(dir_okay=False))
@format_option(SIGNATURE_RENDERERS)
def signature(package: str, fmt: str) -> None:
    """Authenticode of an MSI/MSP/MST: digest recomputed as Windows does, signer, chain, timestamp.

    Exit 0 when signed with a matching digest, 1 when unsigned or altered, 2 when unreadable.
    """
    with open_package(package) as pkg:
        report = signature_report(pkg)
    emit(SIGNATURE_RENDERERS, fmt, report)
    if not (report.get("signed") and report.get("digest_matches")):
        sys.exit(EXIT_FINDINGS)


@click.command()
@click.argument("package", type=click.Path(dir_okay=False))
@PATCH_OPTION
@TRANSFORM_OPTION
@format_option(REVIEW_RENDERERS)
def review(package: str, patches, transforms, fmt: str) -> None:
    """Security review: signatures, custom actions, services, sensitive registry keys, system files.

    For an .msp, or with --patch/--transform, only what the patch or transform adds or changes.
    """
    with ExitStack() as stack:
        pkg, view = open_view(stack, package, patches, transforms)
        report = review_package(pkg, view)
    emit(REVIEW_RENDERERS, fmt, report)


COMMANDS = [signature, review]
