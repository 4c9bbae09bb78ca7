"""`lpack verify`: import (and optionally invoke) a handler from its zip."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TextIO

import click

from lpack.cli.console import Output
from lpack.cli.options import fail
from lpack.cli.report import SCHEMA_VERSION, verify_report
from lpack.errors import ConfigError, LpackError
from lpack.tools.verify import verify_artifact
from lpack.tools.verify_env import user_env


@click.command(name="verify")
# A directory is let through so that an image's OCI layout gets verify's own one-line error, not click's.
@click.argument("artifact", type=click.Path(exists=True, path_type=Path))
@click.option("--handler", help="module.function to import; default: the one in --report.")
@click.option(
    "--event", "event_file", type=click.File("r"), help="Invoke the handler with this JSON event ('-' for stdin)."
)
@click.option("--layer", "layers", multiple=True, type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--runtime", "runtime_name", help="Target runtime; default: from --report, else the zip's bytecode.")
@click.option(
    "--report", "report_file", type=click.Path(dir_okay=False, exists=True, path_type=Path), help="Build report."
)
@click.option("--python", type=click.Path(dir_okay=False, path_type=Path), help="Interpreter of the target version.")
@click.option(
    "--network",
    is_flag=True,
    help="Let the handler reach the network (default: cut off, where bwrap or unshare works).",
)
@click.option(
    "--env",
    "env_pairs",
    multiple=True,
    metavar="KEY=VALUE",
    help="An environment variable for the handler, as in the function's configuration (repeatable).",
)
@click.option(
    "--env-file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Environment variables from a .env file (KEY=VALUE lines); --env wins over it.",
)
@click.option("--json", "json_mode", is_flag=True, help="Print the result as JSON on stdout.")
@click.option("-v", "--verbose", is_flag=True, help="Show the traceback and the handler's output.")
@click.pass_context
def verify_command(
    ctx: click.Context,
    /,
    *,
    artifact: Path,
    handler: str | None,
    event_file: TextIO | None,
    layers: tuple[Path, ...],
    runtime_name: str | None,
    report_file: Path | None,
    python: Path | None,
    network: bool,
    env_pairs: tuple[str, ...],
    env_file: Path | None,
    json_mode: bool,
    verbose: bool,
) -> None:
    """Import the handler from ARTIFACT as Lambda would, time the init, and optionally invoke it.

    This RUNS THE ARTIFACT'S CODE on this machine: its imports and, with --event, its handler. It runs with
    none of this machine's environment variables, from a read-only copy in a temporary directory, and
    without network where bubblewrap or unshare can provide that (the output says which isolation was used).
    Verify only artifacts you would run anyway.
    """
    out = Output(quiet=ctx.obj["quiet"], verbose=verbose or ctx.obj["verbose"], json_mode=json_mode)
    try:
        env = user_env(_pairs(env_pairs), env_file)
        result = verify_artifact(
            artifact,
            handler=handler,
            runtime_name=runtime_name,
            report=report_file,
            layers=layers,
            event=event_file.read() if event_file is not None else None,
            python=python,
            network=network,
            env=env,
        )
    except LpackError as err:
        fail(err, "verify", None, json_mode, out)
    if json_mode:
        out.json(json.dumps({"schema_version": SCHEMA_VERSION, "command": "verify", **verify_report(result)}, indent=2))
    else:
        out.verified(result, show_result=True)


def _pairs(values: tuple[str, ...]) -> dict[str, str]:
    pairs = {}
    for value in values:
        key, sep, text = value.partition("=")
        if not sep:
            raise ConfigError("--env takes KEY=VALUE; one argument has no '='", hint="KEY= sets an empty value")
        pairs[key] = text
    return pairs
