"""Command line: the `lpack` group and its commands, each in the module of its group. Owns every exit code.

A command's module is imported only when that command runs: `lpack --version` and `lpack --help` load no stage
of the pipeline, no rich and no third-party library lpack builds with.
"""

from __future__ import annotations

import importlib

import click

from lpack.cli.guard import GuardedGroup
from lpack.version import __version__

# name -> (module, attribute, the command's short help). The help is the first sentence of the command's own
# docstring, copied so that `lpack --help` imports no command (tests/unit/test_cli_startup.py checks the copy).
COMMANDS: dict[str, tuple[str, str, str]] = {
    "build": (
        "lpack.cli.build",
        "build",
        "Build the project's functions and layers into deterministic Lambda zips or container images.",
    ),
    "cache": (
        "lpack.cli.project",
        "cache",
        "Inspect or empty lpack's cache of locks, installed dependencies and results.",
    ),
    "check": (
        "lpack.cli.examine",
        "check",
        "Check every function's sizes against Lambda's limits and the budget (exit 3 when over).",
    ),
    "diff": (
        "lpack.cli.examine",
        "diff",
        "Compare two artifacts or two JSON reports: packages added, removed, changed, by size impact.",
    ),
    "init": (
        "lpack.cli.project",
        "init",
        "Start a new function project in DIRECTORY (new, or empty but for .git) from a template lpack ships.",
    ),
    "inspect": (
        "lpack.cli.examine",
        "inspect",
        "Show what a Lambda zip or layer zip holds: packages, largest files, native code, limits, audit.",
    ),
    "lock": (
        "lpack.cli.lock",
        "lock",
        "Write a lock per function and target into PROJECT (lpack-locks/, package-lock.json) to commit.",
    ),
    "publish": ("lpack.cli.build", "publish", "Publish artifacts: layers to S3 and Lambda, once per content."),
    "verify": (
        "lpack.cli.verify",
        "verify_command",
        "Import the handler from ARTIFACT as Lambda would, time the init, and optionally invoke it.",
    ),
}


class LazyGroup(GuardedGroup):
    """A group whose commands (from COMMANDS) are imported when looked up, and listed in --help without that."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            module, attribute, _ = COMMANDS[cmd_name]
            command = getattr(importlib.import_module(module), attribute)
            assert isinstance(command, click.Command)
            self.add_command(command, cmd_name)
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # click's own, with each short help from COMMANDS (shortened by click, as the command's own would be).
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = [(name, click.Command(name, help=COMMANDS[name][2]).get_short_help_str(limit)) for name in names]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="lpack")
@click.option("-v", "--verbose", is_flag=True, help="Show installer output and debug logs.")
@click.option("-q", "--quiet", is_flag=True, help="Only errors.")
@click.pass_context
def main(ctx: click.Context, verbose: bool, quiet: bool) -> None:
    """Build AWS Lambda artifacts: reproducible, right for the target, without Docker."""
    ctx.obj = {"verbose": verbose, "quiet": quiet}
