"""``transform`` and ``patch``: what a transform or a patch changes."""
from __future__ import annotations

import os
from contextlib import ExitStack

import click

from msitools.cli.common import emit, format_option
from msitools.db.package import open_package
from msitools.db.transform import Transform, transform_report
from msitools.errors import UsageError
from msitools.patch.msp import Msp
from msitools.patch.report import patch_report
from msitools.render.patch import PATCH_RENDERERS, TRANSFORM_RENDERERS


@click.command()
@click.argument("mst", type=click.Path(dir_okay=False))
@click.option("--base", type=click.Path(dir_okay=False), help="Base package: real schemas, old values.")
@format_option(TRANSFORM_RENDERERS)
def transform(mst: str, base: str | None, fmt: str) -> None:
    """A transform's summary and its changes, table by table."""
    with ExitStack() as stack:
        pkg = stack.enter_context(open_package(mst))
        if pkg.kind != "mst":
            raise UsageError(f"not a transform but a {pkg.kind} (for a patch use `msitools patch`)", mst)
        base_db = None
        if base:
            base_pkg = stack.enter_context(open_package(base))
            if base_pkg.database is None:
                raise UsageError("the base must be an .msi or .msm", base)
            base_db = base_pkg.database
        report = transform_report(Transform(pkg.cfb, pkg.cfb.root, os.path.basename(mst), mst, pkg.limits), base_db)
    emit(TRANSFORM_RENDERERS, fmt, report)


@click.command()
@click.argument("msp", type=click.Path(dir_okay=False))
@click.option("--base", type=click.Path(dir_okay=False), help="Target package: applicability, real schemas, paths.")
@format_option(PATCH_RENDERERS)
def patch(msp: str, base: str | None, fmt: str) -> None:
    """The patch report: targets, metadata, transform pairs, payload, files and tables changed."""
    with ExitStack() as stack:
        pkg = stack.enter_context(open_package(msp))
        base_pkg = stack.enter_context(open_package(base)) if base else None
        report = patch_report(Msp(pkg), base_pkg)
    emit(PATCH_RENDERERS, fmt, report)


COMMANDS = [transform, patch]
