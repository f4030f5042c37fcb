"""The ``msitools`` command line: a thin shell over the library.

Command modules are imported only when their command runs (or for ``--help``),
so a command pays only for the layers it uses.
"""
from __future__ import annotations

import gc
import importlib
import os
import sys

import click

from msitools import __version__
from msitools.cli.common import MsiToolsGroup

GC_THRESHOLD = 10_000  # allocations between collections of the youngest generation (Python's default: 700)

# command name -> module (under msitools.cli) defining it
COMMAND_MODULES = {
    "info": "inspect_cmds", "tables": "inspect_cmds", "table": "inspect_cmds", "streams": "inspect_cmds",
    "stream": "inspect_cmds", "export": "inspect_cmds",
    "transform": "patch_cmds", "patch": "patch_cmds",
    "files": "extract_cmds", "extract": "extract_cmds",
    "kb": "verify_cmds", "verify": "verify_cmds",
    "signature": "security_cmds", "review": "security_cmds", "sbom": "security_cmds", "diff": "diff_cmds",
    "scan": "library_cmds", "query": "library_cmds",
}


class LazyGroup(MsiToolsGroup):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMAND_MODULES)

    def get_command(self, ctx: click.Context, name: str):
        module_name = COMMAND_MODULES.get(name)
        if module_name is None:
            return None
        try:
            module = importlib.import_module(f"{__name__}.{module_name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"{__name__}.{module_name}":
                return None
            raise
        for command in module.COMMANDS:
            if command.name == name:
                return command
        return None


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="msitools")
@click.option("--debug", is_flag=True, help="Show a traceback instead of a one-line error.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Open Windows Installer packages (MSI, MSP, MST, MSM) and cabinets, and verify hotfixes."""
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


def main() -> None:
    """Run the command line, then end the process at once.

    Tearing the interpreter down (freeing every row, cabinet member and file
    record one by one, unloading modules) can take longer than a small
    command's own work: 15 ms after extracting vcredist.msi, more than a tenth
    of the run.  Every command has closed what it wrote by the time it
    returns; standard output and error are flushed here, and a failed flush (a
    closed pipe) ends with status 120, as Python's own exit does.
    """
    # A command builds many small objects that live until its report is written (rows, files,
    # findings: 20,000 of each for a big hotfix); with the default threshold (700 allocations) the
    # collector walks them again and again, a tenth of a big verify.  Collections stay, less often.
    gc.set_threshold(GC_THRESHOLD)
    status: str | int | None = 0
    try:
        cli(prog_name="msitools")
    except SystemExit as exc:
        status = exc.code
    if isinstance(status, int):
        code = status
    elif status is None:
        code = 0
    else:
        sys.stderr.write(f"{status}\n")
        code = 1
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            code = code or 120
    os._exit(code)
