"""The ``msitools`` command line: a thin shell over the library.

Command modules are imported only when their command runs (or for ``--help``),
so a command pays only for the layers it uses.
"""
from __future__ import annotations

import importlib

import click

from .. import __version__
from .common import MsiToolsGroup

# command name -> module (under msitools.cli) defining it
COMMAND_MODULES = {
    "info": "inspect_cmds", "tables": "inspect_cmds", "table": "inspect_cmds", "streams": "inspect_cmds",
    "stream": "inspect_cmds", "export": "inspect_cmds",
    "transform": "patch_cmds", "patch": "patch_cmds",
    "files": "extract_cmds", "extract": "extract_cmds",
    "kb": "verify_cmds", "verify": "verify_cmds",
    "signature": "security_cmds", "review": "security_cmds",
}


class LazyGroup(MsiToolsGroup):
    def list_commands(self, ctx: click.Context) -> "list[str]":
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
    cli(prog_name="msitools")
