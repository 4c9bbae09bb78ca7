"""`lpack lock`: options in, one library call (tools.lock), the written files out."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from lpack.cli.options import fail, output, output_options, target_options, write_report
from lpack.config.load import load_config
from lpack.config.model import Overrides
from lpack.errors import LpackError
from lpack.tools.lock import LockResult, lock_project


@click.command("lock")
@target_options
@output_options
@click.pass_context
def lock(
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
    """Write a lock per function and target into PROJECT (lpack-locks/, package-lock.json) to commit.

    Python locks are pip-tools' requirements format with hashes, resolved for the target's runtime and
    architecture; `lpack build --locked` then fails (exit 2) when one no longer matches its inputs.
    """
    out = output(ctx, verbose, quiet, json_mode)
    try:
        config = load_config(project, Overrides(**options))
        done = lock_project(config)
    except LpackError as err:
        fail(err, "lock", report_file, json_mode, out)
    write_report(_report(done, config.project_dir), report_file, json_mode, out)
    lines = [
        f"{'wrote' if w.changed else 'unchanged'} {_shown(w.path, config.project_dir)} ({w.name}, {w.target})"
        for w in done.locks
    ]
    out.lines([*lines, *(f"skipped {s.name}: {s.why}" for s in done.skipped)])


def _shown(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def _report(done: LockResult, root: Path) -> dict[str, Any]:
    return {
        "command": "lock",
        "locks": [
            {
                "path": str(w.path),
                "relative_path": _shown(w.path, root),
                "name": w.name,
                "role": w.role,
                "target": w.target,
                "changed": w.changed,
            }
            for w in done.locks
        ],
        "skipped": [{"name": s.name, "why": s.why} for s in done.skipped],
    }
