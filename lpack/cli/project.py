"""`lpack init` and `lpack cache`: a new project, and the cache's housekeeping."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from lpack.cache import Cache
from lpack.cli.console import Output
from lpack.cli.options import output
from lpack.errors import LpackError
from lpack.tools.init import available, init_from_sam
from lpack.tools.init import init as create_project


@click.command()
@click.argument("directory", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option("--template", default="python", show_default=True, help=f"One of: {', '.join(available())}.")
@click.option(
    "--from-sam",
    "sam_template",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Write an lpack.toml for this SAM template's functions and layers (into DIRECTORY, default beside it).",
)
@click.pass_context
def init(ctx: click.Context, /, *, directory: Path | None, template: str, sam_template: Path | None) -> None:
    """Start a new function project in DIRECTORY (new, or empty but for .git) from a template lpack ships."""
    out = output(ctx, False, False, False)
    if directory is None and sam_template is None:
        raise click.UsageError("give DIRECTORY, or --from-sam TEMPLATE")
    try:
        if sam_template is not None:
            written = init_from_sam(sam_template, directory)
            directory = written.parent
            out.created(directory, [written])
            return
        assert directory is not None
        out.created(directory, create_project(template, directory))
    except LpackError as err:
        out.error(err)
        sys.exit(err.exit_code)


@click.group()
def cache() -> None:
    """Inspect or empty lpack's cache of locks, installed dependencies and results."""


@cache.command("info")
@click.pass_context
def cache_info(ctx: click.Context) -> None:
    """Where the cache is and what it holds."""
    Output(quiet=ctx.obj["quiet"]).cache_info(Cache.default().info())


@cache.command("clean")
@click.pass_context
def cache_clean(ctx: click.Context) -> None:
    """Remove every cache entry (builds then install and compress afresh).

    Only a directory lpack made and tagged (CACHEDIR.TAG) is touched; anything else is refused.
    """
    store = Cache.default()
    out = Output(quiet=ctx.obj["quiet"])
    try:
        freed = store.clean()
    except LpackError as err:
        out.error(err)
        sys.exit(err.exit_code)
    out.cache_cleaned(store.root, freed)
