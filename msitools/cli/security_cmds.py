"""``signature`` and ``review``: who signed a package, whether it is intact, and what it will run."""
from __future__ import annotations

import sys
from contextlib import ExitStack

import click

from msitools.pe.authenticode_msi import signature_report
from msitools.db.package import open_package
from msitools.review import review as review_package
from msitools.render.review import review_markdown, review_text, signature_text
from msitools.cli.common import (
    EXIT_FINDINGS,
    PATCH_OPTION,
    TRANSFORM_OPTION,
    echo_text,
    emit_json,
    format_option,
)


@click.command()
@click.argument("package", type=click.Path(dir_okay=False))
@format_option(["text", "json"])
def signature(package: str, fmt: str) -> None:
    """Authenticode of an MSI/MSP/MST: digest recomputed as Windows does, signer, chain, timestamp.

    Exit 0 when signed with a matching digest, 1 when unsigned or altered, 2 when unreadable.
    """
    with open_package(package) as pkg:
        report = signature_report(pkg)
    if fmt == "json":
        emit_json(report)
    else:
        echo_text(signature_text(report))
    if not (report.get("signed") and report.get("digest_matches")):
        sys.exit(EXIT_FINDINGS)


@click.command()
@click.argument("package", type=click.Path(dir_okay=False))
@PATCH_OPTION
@TRANSFORM_OPTION
@format_option(["text", "json", "markdown"])
def review(package: str, patches, transforms, fmt: str) -> None:
    """Security review: signatures, custom actions, services, sensitive registry keys, system files.

    For an .msp, or with --patch/--transform, only what the patch or transform adds or changes.
    """
    with ExitStack() as stack:
        pkg = stack.enter_context(open_package(package))
        view = None
        if patches or transforms:
            from msitools.patch.msp import apply_patches_and_transforms

            view = stack.enter_context(apply_patches_and_transforms(pkg, patches, transforms))
        report = review_package(pkg, view)
    if fmt == "json":
        emit_json(report)
    elif fmt == "markdown":
        echo_text(review_markdown(report))
    else:
        echo_text(review_text(report))


COMMANDS = [signature, review]
