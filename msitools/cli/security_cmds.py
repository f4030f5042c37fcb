"""``signature`` and ``review``: who signed a package, whether it is intact, and what it will run."""
from __future__ import annotations

import sys
from contextlib import ExitStack

import click

from msitools.cli.common import EXIT_FINDINGS, PATCH_OPTION, TRANSFORM_OPTION, emit, format_option, is_cabinet
from msitools.cli.inspect_cmds import open_view
from msitools.render.review import REVIEW_RENDERERS, SIGNATURE_RENDERERS
from msitools.review import review as review_package
from msitools.review import review_cabinet
from msitools.signature import signature_check


@click.command()
@click.argument("package", type=click.Path(dir_okay=False))
@format_option(SIGNATURE_RENDERERS)
@click.option("--trust-store", "trust_pem", multiple=True, type=click.Path(dir_okay=False),
              help="Also trust the certificates of this PEM file (repeatable).")
@click.option("--allow-untrusted", is_flag=True, help="Signed and intact is enough (the chain need not be trusted).")
def signature(package: str, fmt: str, trust_pem: tuple[str, ...], allow_untrusted: bool) -> None:
    """Authenticode of a package (MSI/MSP/MST/MSM), a PE image or a catalog (.cat).

    The package digest is recomputed as Windows does; signer, chain, timestamp and
    weaknesses (SHA-1, expired without timestamp) are shown.  Exit 0 only when signed,
    intact and the chain reaches a trusted root (the offline store plus --trust-store);
    1 when unsigned, altered or untrusted (the output says which); 2 when unreadable.
    """
    report = signature_check(package, trust_pem=trust_pem, allow_untrusted=allow_untrusted)
    emit(SIGNATURE_RENDERERS, fmt, report)
    if report["outcome"] != "ok":
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
    if is_cabinet(package):
        if patches or transforms:
            raise click.UsageError("--patch and --transform apply to a package, not to a cabinet")
        report = review_cabinet(package)
    else:
        with ExitStack() as stack:
            pkg, view = open_view(stack, package, patches, transforms)
            report = review_package(pkg, view)
    emit(REVIEW_RENDERERS, fmt, report)


COMMANDS = [signature, review]
