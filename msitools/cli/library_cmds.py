"""``scan`` and ``query``: a catalog of a whole software library."""
from __future__ import annotations

import sys

import click

from msitools.cli.common import emit, format_option
from msitools.render.library import QUERY_RENDERERS, SCAN_RENDERERS


def _executor(dask: str | None, jobs: int):
    if dask is None:
        return None
    from msitools.library.distributed import dask_executor

    return dask_executor(dask, jobs)


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--db", required=True, type=click.Path(dir_okay=False), help="The catalog (SQLite; created if missing).")
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=1, show_default=True,
              help="Processes scanning packages side by side (with --dask local: workers).")
@click.option("--dask", metavar="ADDRESS", default=None,
              help="Run on a Dask cluster: tcp://SCHEDULER:8786, or 'local' for a LocalCluster "
                   "(pip install 'msitools[dask]').")
@format_option(SCAN_RENDERERS)
def scan(paths, db: str, jobs: int, dask: str | None, fmt: str) -> None:
    """Record every package under PATHS (and every package inside them) into the catalog --db.

    Unchanged packages (size, mtime, first and last MiB, then the full SHA-256) are skipped,
    removed ones marked; a damaged package is recorded with its error and the scan goes on.
    """
    from msitools.library.scan import scan as run_scan

    state: dict = {}

    def progress(path: str, total: int) -> None:
        bar = state.get("bar")
        if bar is None:
            bar = state["bar"] = click.progressbar(length=total, label="scanning", file=sys.stderr, show_pos=True)
            bar.__enter__()
        bar.update(1)

    executor = _executor(dask, jobs)
    try:
        summary = run_scan(paths, db, jobs=jobs, executor=executor,
                           progress=progress if sys.stderr.isatty() and fmt == "text" else None)
    finally:
        if state.get("bar") is not None:
            state["bar"].__exit__(None, None, None)
        if executor is not None and hasattr(executor, "close"):
            executor.close()
    emit(SCAN_RENDERERS, fmt, summary)


@click.command()
@click.option("--db", required=True, type=click.Path(dir_okay=False), help="The catalog made by msitools scan.")
@click.option("--file", "file_name", metavar="NAME", help="Packages that deliver a file of this name.")
@click.option("--older-than", metavar="VERSION", help="With --file: only versions below VERSION.")
@click.option("--unsigned", is_flag=True, help="Packages with no signature.")
@click.option("--altered", is_flag=True, help="Packages and payload files altered after signing.")
@click.option("--system-actions", is_flag=True, help="Custom actions that run code as SYSTEM.")
@click.option("--services", is_flag=True, help="Services installed or controlled.")
@click.option("--product", metavar="TEXT", help="Packages whose product name contains TEXT.")
@click.option("--errors", is_flag=True, help="Packages that could not be read.")
@click.option("--sql", metavar="SELECT", help="Any read-only SQL over the catalog's tables and views.")
@format_option(QUERY_RENDERERS)
def query(db: str, file_name, older_than, unsigned, altered, system_actions, services, product, errors, sql,
          fmt: str) -> None:
    """Ask the catalog one question (the views: v_files, v_unsigned, v_altered, v_system_actions, v_services,
    v_verdicts)."""
    from msitools.library.query import ask, run_sql

    chosen = [(name, value) for name, value in (("file", file_name), ("unsigned", unsigned), ("altered", altered),
                                                ("system-actions", system_actions), ("services", services),
                                                ("product", product), ("errors", errors), ("sql", sql)) if value]
    if len(chosen) != 1:
        raise click.UsageError("ask one question: --file, --unsigned, --altered, --system-actions, --services, "
                               "--product, --errors or --sql")
    if older_than and not file_name:
        raise click.UsageError("--older-than goes with --file")
    name, value = chosen[0]
    report = run_sql(db, value) if name == "sql" else ask(db, name, value if isinstance(value, str) else None,
                                                          older_than)
    emit(QUERY_RENDERERS, fmt, report)


COMMANDS = [scan, query]
