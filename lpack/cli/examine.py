"""`lpack check`, `inspect` and `diff`: sizes and contents, against Lambda's limits or another build."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from lpack.cli.options import fail, output, output_options, target_options, write_report
from lpack.cli.report import audit_json, check_report, diff_report, inspect_report
from lpack.config.load import load_config
from lpack.config.model import Overrides
from lpack.errors import EXIT_FAILED, EXIT_TOO_BIG, LpackError
from lpack.runtimes import Arch
from lpack.tools.check import check as run_check
from lpack.tools.diff import diff as run_diff
from lpack.tools.diff import load as load_snapshots
from lpack.tools.inspect import inspect_and_audit


@click.command()
@target_options
@output_options
@click.pass_context
def check(
    ctx: click.Context,
    /,
    *,
    project: Path,
    report_file: Path | None,
    json_mode: bool,
    verbose: bool,
    quiet: bool,
    **options: Any,
) -> None:
    """Check every function's sizes against Lambda's limits and the budget (exit 3 when over).

    Builds in a scratch directory, so dist/ is left alone: fit for a pre-commit hook or a CI step.
    """
    out = output(ctx, verbose, quiet, json_mode)
    try:
        result = run_check(load_config(project, Overrides(**options)), on_event=out.event)
    except LpackError as err:
        fail(err, "check", report_file, json_mode, out)
    write_report(check_report(result), report_file, json_mode, out)
    out.check(result)
    if result.over:
        sys.exit(EXIT_TOO_BIG)


@click.command()
@click.argument("artifact", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--runtime", "runtime_name", help="Audit for this runtime; default: the zip's bytecode tags.")
@click.option("--arch", "architecture", type=click.Choice(["x86_64", "arm64"]), help="Default: its ELF files'.")
@output_options
@click.pass_context
def inspect(
    ctx: click.Context,
    /,
    *,
    artifact: Path,
    runtime_name: str | None,
    architecture: Arch | None,
    report_file: Path | None,
    json_mode: bool,
    verbose: bool,
    quiet: bool,
) -> None:
    """Show what a Lambda zip or layer zip holds: packages, largest files, native code, limits, audit."""
    out = output(ctx, verbose, quiet, json_mode)
    try:
        found = inspect_and_audit(artifact, runtime_name=runtime_name, architecture=architecture)
    except LpackError as err:
        fail(err, "inspect", report_file, json_mode, out)
    audited = found.audit
    report = inspect_report(found.inspection)
    report["audit"] = audit_json(audited) if audited is not None else None
    write_report(report, report_file, json_mode, out)
    out.inspection(found.inspection)
    out.audit(audited, unsafe=found.inspection.unsafe)
    if found.inspection.unsafe:  # a hostile or broken zip outranks its size
        sys.exit(EXIT_FAILED)
    if any(f.severity == "error" for f in found.inspection.findings):
        sys.exit(EXIT_TOO_BIG)
    if audited is not None and audited.errors:
        sys.exit(EXIT_FAILED)


@click.command()
@click.argument("old", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("new", type=click.Path(dir_okay=False, path_type=Path))
@output_options
@click.pass_context
def diff(
    ctx: click.Context,
    /,
    *,
    old: Path,
    new: Path,
    report_file: Path | None,
    json_mode: bool,
    verbose: bool,
    quiet: bool,
) -> None:
    """Compare two artifacts or two JSON reports: packages added, removed, changed, by size impact."""
    out = output(ctx, verbose, quiet, json_mode)
    try:
        diffs = run_diff(load_snapshots(old), load_snapshots(new))
    except LpackError as err:
        fail(err, "diff", report_file, json_mode, out)
    write_report(diff_report(diffs), report_file, json_mode, out)
    out.diff(diffs)
