"""``signature`` and ``review``: who signed a package, whether it is intact, and what it will run."""
from __future__ import annotations

import sys
from contextlib import ExitStack

import click

from msitools.base.fsutil import read_magic
from msitools.cli.common import EXIT_FINDINGS, PATCH_OPTION, TRANSFORM_OPTION, emit, format_option, is_cabinet
from msitools.cli.inspect_cmds import open_view
from msitools.pe.trust import trust_store
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
@click.option("--depth", type=click.IntRange(min=0), default=None,
              help="How many levels of packages inside the package to open [default: all].")
@click.option("--trust-store", "trust_pem", multiple=True, type=click.Path(dir_okay=False),
              help="Also trust the certificates of this PEM file (repeatable).")
@format_option(REVIEW_RENDERERS)
def review(package: str, patches, transforms, depth: int | None, trust_pem: tuple[str, ...], fmt: str) -> None:
    """Security review of a package and everything it delivers.

    Signatures (package, payload, catalogs), custom actions (most serious first), services,
    environment, upgrades, registry under sensitive keys, system files, shortcuts, INI files,
    permissions, security-relevant properties and Binary streams; every package inside is
    opened (--depth limits it).  For an .msp, or with --patch/--transform, only what the
    patch or transform adds or changes.  Exit 0; 1 when a part could not be read or a
    signature is altered; 2 when the file cannot be opened at all.
    """
    store = trust_store(trust_pem)
    if is_cabinet(package) or read_magic(package)[:2] == b"MZ":
        if patches or transforms:
            raise click.UsageError("--patch and --transform apply to a package, not to a cabinet")
        report = review_cabinet(package, depth=depth, trust_store=store)
    else:
        with ExitStack() as stack:
            pkg, view = open_view(stack, package, patches, transforms)
            report = review_package(pkg, view, depth=depth, trust_store=store)
    emit(REVIEW_RENDERERS, fmt, report)
    if report["summary"].get("attention"):
        sys.exit(EXIT_FINDINGS)


@click.command()
@click.argument("package", type=click.Path(dir_okay=False))
@click.option("--no-recursive", is_flag=True, help="Leave out the files of packages inside the package.")
@format_option({})
def sbom(package: str, no_recursive: bool, fmt: str) -> None:
    """A CycloneDX 1.6 JSON SBOM of a package (MSI, MSM, MSP) or cabinet and everything it delivers.

    The package (product, version, manufacturer, codes, signature) and every payload file
    (install path, version, size, SHA-256, SHA-1, PE signer), packages inside as nested
    components; validated against the CycloneDX schema before it is written.
    """
    import json

    from msitools.sbom import sbom_json

    emit({}, fmt, json.loads(sbom_json(package, recursive=not no_recursive)))


COMMANDS = [signature, review, sbom]
