"""The ``msitools`` command line: a thin shell over the library."""
from __future__ import annotations

import click

from .. import __version__
from .common import MsiToolsGroup
from .inspect_cmds import COMMANDS as INSPECT_COMMANDS
from .extract_cmds import COMMANDS as EXTRACT_COMMANDS
from .patch_cmds import COMMANDS as PATCH_COMMANDS
from .verify_cmds import COMMANDS as VERIFY_COMMANDS


@click.group(cls=MsiToolsGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="msitools")
@click.option("--debug", is_flag=True, help="Show a traceback instead of a one-line error.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Open Windows Installer packages (MSI, MSP, MST, MSM) and cabinets, and verify hotfixes."""
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


for _command in INSPECT_COMMANDS + PATCH_COMMANDS + EXTRACT_COMMANDS + VERIFY_COMMANDS:
    cli.add_command(_command)


def main() -> None:
    cli(prog_name="msitools")
