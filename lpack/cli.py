"""Command line: parse options into a BuildConfig, call the library, render. Owns every exit code."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from lpack import __version__, _archive
from lpack._console import Output
from lpack.build import build as run_build
from lpack.cache import Cache
from lpack.config import Overrides, load_config
from lpack.errors import EXIT_USAGE, LpackError, SizeLimitError
from lpack.report import build_report, error_report
from lpack.size import SizeReport


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="lpack")
@click.option("-v", "--verbose", is_flag=True, help="Show installer output and debug logs.")
@click.option("-q", "--quiet", is_flag=True, help="Only errors.")
@click.pass_context
def main(ctx: click.Context, verbose: bool, quiet: bool) -> None:
    """Build AWS Lambda artifacts: reproducible, right for the target, without Docker."""
    ctx.obj = {"verbose": verbose, "quiet": quiet}


@main.command()
@click.argument("project", default=".", type=click.Path(file_okay=False, path_type=Path))
@click.option("--runtime", help="Override the runtime, e.g. python3.12.")
@click.option("--arch", "architecture", help="Override the architecture: x86_64 or arm64.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), help="Output directory [dist].")
@click.option("--function", "functions", multiple=True, help="Build only this function (repeatable).")
@click.option("--installer", type=click.Choice(["uv", "pip"]), help="Override the installer.")
@click.option(
    "--python",
    "python",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Interpreter of the target's Python version, for bytecode.",
)
@click.option("--index-url", help="Package index to use instead of the configured one.")
@click.option("--find-links", multiple=True, help="Extra directory or URL of distributions (repeatable).")
@click.option("--no-index", is_flag=True, help="Use only --find-links / find-links, not any index.")
@click.option(
    "--report", "report_file", type=click.Path(dir_okay=False, path_type=Path), help="Write the JSON report to FILE."
)
@click.option(
    "-j",
    "--jobs",
    type=click.IntRange(min=1),
    help="Functions built at once [one per core].",
)
@click.option("--no-cache", is_flag=True, help="Neither read nor fill the cache (LPACK_CACHE_DIR, ~/.cache/lpack).")
@click.option("-v", "--verbose", is_flag=True, help="Show installer output and debug logs.")
@click.option("-q", "--quiet", is_flag=True, help="Only errors.")
@click.option("--json", "json_mode", is_flag=True, help="Print the JSON report on stdout instead of the table.")
@click.pass_context
def build(
    ctx: click.Context,
    /,
    *,
    project: Path,
    report_file: Path | None,
    json_mode: bool,
    verbose: bool,
    quiet: bool,
    jobs: int | None,
    no_cache: bool,
    **options: Any,
) -> None:
    """Build the project's functions into deterministic Lambda zips."""
    out = Output(quiet=quiet or ctx.obj["quiet"], verbose=verbose or ctx.obj["verbose"], json_mode=json_mode)
    out_dir = options.pop("out_dir")
    overrides = Overrides(out_dir=out_dir.resolve() if out_dir else None, **options)
    try:
        config = load_config(project, overrides)
        result = run_build(config, on_event=out.event, use_cache=not no_cache, jobs=jobs)
    except LpackError as err:
        size = err.report if isinstance(err, SizeLimitError) and isinstance(err.report, SizeReport) else None
        _write_report(error_report(err.msg, err.hint, err.exit_code, size), report_file, json_mode, out)
        out.error(err)
        if size is not None:
            out.largest(size)
        sys.exit(err.exit_code)
    _write_report(build_report(result), report_file, json_mode, out)
    out.summary(result)


@main.group()
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
    """Remove every cache entry (builds then install and compress afresh)."""
    store = Cache.default()
    Output(quiet=ctx.obj["quiet"]).cache_cleaned(store.root, store.clean())


def _write_report(data: dict[str, Any], report_file: Path | None, json_mode: bool, out: Output) -> None:
    text = json.dumps(data, indent=2, sort_keys=False)
    if report_file is not None:
        try:
            with _archive.atomic_output(report_file.resolve()) as tmp:
                tmp.write_text(text + "\n")
        except OSError as err:
            out.error(LpackError(f"{report_file}: cannot write the report: {err.strerror}"))
            sys.exit(EXIT_USAGE)
    if json_mode:
        out.json(text)
