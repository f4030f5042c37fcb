"""``verify`` (the flagship) and ``kb parse``."""
from __future__ import annotations

import sys

import click

from msitools.cli.common import EXIT_FINDINGS, emit, format_option
from msitools.kb import FORMATS as KB_INPUT_FORMATS
from msitools.kb import parse_file
from msitools.pe.trust import trust_store
from msitools.render.kb import RENDERERS as KB_RENDERERS
from msitools.render.verify import RENDERERS
from msitools.verify import verify as verify_hotfix


@click.group()
def kb() -> None:
    """Published file-information tables (KB articles)."""


@kb.command("parse")
@click.argument("table", type=click.Path(dir_okay=False))
@format_option(KB_RENDERERS)
@click.option("--input-format", type=click.Choice(list(KB_INPUT_FORMATS)), default="auto", show_default=True,
              help="How the table is written (auto-detected by default).")
def kb_parse(table: str, fmt: str, input_format: str) -> None:
    """Parse a published table: HTML, CSV, Markdown, copied text, or the squashed text of archived pages."""
    emit(KB_RENDERERS, fmt, parse_file(table, format=input_format))


@click.command()
@click.argument("hotfix", type=click.Path(dir_okay=False), required=False)
@click.option("--batch", "manifest", type=click.Path(dir_okay=False),
              help="Verify every hotfix of this manifest (CSV or JSON: hotfix, table, sections, platforms, ...).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False),
              help="With --batch: the folder for one report per hotfix and the summary (default: batch-reports).")
@click.option("--db", type=click.Path(dir_okay=False), help="With --batch: record the verdicts in this catalog.")
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=1, show_default=True,
              help="With --batch: hotfixes verified side by side.")
@click.option("--dask", metavar="ADDRESS", default=None,
              help="With --batch: run on a Dask cluster (tcp://SCHEDULER:8786, or 'local').")
@click.option("--kb", "table", type=click.Path(dir_okay=False),
              help="The published file-information table (HTML, CSV, Markdown, text, squashed text).")
@format_option(RENDERERS)
@click.option("-v", "--details", is_flag=True,
              help="Also where each file was found, the pairing, the inputs and every file's SHA-256.")
@click.option("--allow-unlisted", is_flag=True, help="Delivered files the table does not list do not fail the verdict.")
@click.option("--require-signature", is_flag=True,
              help="Also fail when a package or payload executable is unsigned or its chain is not trusted "
                   "(altered ones always fail).")
@click.option("--expect-signer", "expect_signers", multiple=True, metavar="TEXT",
              help="Every signed package and payload executable must be signed by a certificate whose subject "
                   "contains TEXT, e.g. 'O=Microsoft Corporation' (repeatable: any of them).")
@click.option("--trust-store", "trust_pem", multiple=True, type=click.Path(dir_okay=False),
              help="Also trust the certificates of this PEM file (repeatable).")
@click.option("--base", type=click.Path(dir_okay=False),
              help="The product the patches apply to: names files that a patch only updates.")
@click.option("--depth", type=int, default=0, show_default=True,
              help="How many levels of .msi files inside the delivery to open (patches are always opened).")
@click.option("--section", "sections", multiple=True, metavar="TEXT",
              help="Only the published rows of sections whose title or headings contain TEXT (repeatable).")
@click.option("--platform", "platforms", multiple=True, type=click.Choice(["x86", "x64", "IA-64", "ARM64"]),
              help="Only the published rows for this platform (repeatable; Not Applicable rows are always kept).")
@click.option("--input-format", type=click.Choice(list(KB_INPUT_FORMATS)), default="auto", show_default=True,
              help="How the published table is written.")
def verify(hotfix: str | None, manifest: str | None, out_dir: str | None, db: str | None, jobs: int,
           dask: str | None, table: str | None, fmt: str, details: bool, allow_unlisted: bool,
           require_signature: bool, expect_signers: tuple[str, ...], trust_pem: tuple[str, ...], base: str | None,
           depth: int, sections: tuple[str, ...], platforms: tuple[str, ...], input_format: str) -> None:
    """Check that a hotfix delivers exactly the files of its published table.

    Exit 0 when every published row passes and nothing is unlisted; 1 for any
    other verdict; 2 when an input cannot be read.  On a terminal the text report fits
    100 columns, in colour unless NO_COLOR is set, and ends with the verdict line;
    -o FILE writes the format its extension names (.html .md .xml .json .txt).
    --batch MANIFEST verifies many hotfixes (exit 1 when any fails).
    """
    if manifest is not None:
        if hotfix or table:
            raise click.UsageError("--batch takes the hotfixes and tables from the manifest, not HOTFIX and --kb")
        _batch(manifest, out_dir or "batch-reports", db, jobs, dask, fmt)
        return
    if not hotfix or not table:
        raise click.UsageError("give HOTFIX and --kb TABLE (or --batch MANIFEST)")
    report = verify_hotfix(hotfix, table, depth=depth, allow_unlisted=allow_unlisted,
                           require_signature=require_signature, base=base, sections=sections, platforms=platforms,
                           input_format=input_format, expect_signers=expect_signers,
                           trust_store=trust_store(trust_pem))
    emit(RENDERERS, fmt, report, details=details,
         written=lambda path: f"{report.verdict.upper()}: {fmt} report written to {path}")
    if not report.passed:
        sys.exit(EXIT_FINDINGS)


def _batch(manifest: str, out_dir: str, db: str | None, jobs: int, dask: str | None, fmt: str) -> None:
    import json

    from msitools.library.batch import batch_text, local_runner, run_batch

    runner = local_runner(jobs)
    executor = None
    if dask is not None:
        from msitools.library.distributed import DaskExecutor, dask_batch_runner

        executor = DaskExecutor(dask, jobs)
        runner = dask_batch_runner(executor)
    try:
        summary = run_batch(manifest, out_dir, runner=runner, db=db)
    finally:
        if executor is not None:
            executor.close()
    click.echo(json.dumps(summary, indent=2) if fmt == "json" else batch_text(summary))
    if summary["failed"]:
        sys.exit(EXIT_FINDINGS)


COMMANDS = [kb, verify]
