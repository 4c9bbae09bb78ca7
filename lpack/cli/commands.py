"""Command line: the `lpack` group and its commands, each in the module of its group. Owns every exit code."""

from __future__ import annotations

import click

from lpack.cli.build import build, publish
from lpack.cli.examine import check, diff, inspect
from lpack.cli.lock import lock
from lpack.cli.project import cache, init
from lpack.cli.verify import verify_command
from lpack.version import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="lpack")
@click.option("-v", "--verbose", is_flag=True, help="Show installer output and debug logs.")
@click.option("-q", "--quiet", is_flag=True, help="Only errors.")
@click.pass_context
def main(ctx: click.Context, verbose: bool, quiet: bool) -> None:
    """Build AWS Lambda artifacts: reproducible, right for the target, without Docker."""
    ctx.obj = {"verbose": verbose, "quiet": quiet}


for _command in (build, lock, verify_command, check, inspect, diff, publish, init, cache):
    main.add_command(_command)
