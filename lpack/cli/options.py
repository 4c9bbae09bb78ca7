"""What every command shares: option groups, the Output for its flags, and the one place errors become exits."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from lpack.cache import default_root
from lpack.cli.console import Output
from lpack.cli.report import error_report
from lpack.errors import EXIT_USAGE, AuditError, ConfigError, LpackError, SizeLimitError
from lpack.redact import redact_data

if TYPE_CHECKING:
    from lpack.tools.publish import PublishOptions

F = TypeVar("F", bound=Callable[..., Any])

# The publish options' parameter names, as `publish_options` declares them.
PUBLISH_KEYS = ("bucket", "prefix", "region", "profile", "endpoint_url", "public", "grants")


def output_options(func: F) -> F:
    for option in reversed(
        [
            click.option(
                "--report",
                "report_file",
                type=click.Path(dir_okay=False, path_type=Path),
                help="Write the JSON report to FILE.",
            ),
            click.option(
                "--json", "json_mode", is_flag=True, help="Print the JSON report on stdout instead of tables."
            ),
            click.option("-v", "--verbose", is_flag=True, help="Show installer output and debug logs."),
            click.option("-q", "--quiet", is_flag=True, help="Only errors."),
        ]
    ):
        func = option(func)
    return func


def target_options(func: F) -> F:
    for option in reversed(
        [
            click.argument("project", default=".", type=click.Path(file_okay=False, path_type=Path)),
            click.option("--runtime", help="Override the runtime, e.g. python3.12."),
            click.option("--arch", "architecture", help="Override the architecture: x86_64 or arm64."),
            click.option(
                "--function", "functions", multiple=True, help="Only this function and its layers (repeatable)."
            ),
            click.option("--layer", "layers", multiple=True, help="Only this layer (repeatable)."),
            click.option("--installer", type=click.Choice(["uv", "pip"]), help="Override the installer."),
            click.option(
                "--python",
                "python",
                type=click.Path(dir_okay=False, path_type=Path),
                help="Interpreter of the target's Python version, for bytecode.",
            ),
            click.option("--index-url", help="Package index to use instead of the configured one."),
            click.option("--find-links", multiple=True, help="Extra directory or URL of distributions (repeatable)."),
            click.option("--no-index", is_flag=True, help="Use only --find-links / find-links, not any index."),
            click.option(
                "--strict", is_flag=True, help="Fail when a packed file looks like it holds a secret (key, token)."
            ),
        ]
    ):
        func = option(func)
    return func


def publish_options(func: F) -> F:
    for option in reversed(
        [
            click.option("--bucket", help="S3 bucket for the layer zip [the layer's publish.bucket; none: inline]."),
            click.option("--prefix", help="Key prefix: s3://BUCKET/PREFIX/<layer>/<sha256>.zip."),
            click.option("--region", help="AWS region [the profile's or AWS_REGION]."),
            click.option("--profile", help="AWS profile from the shared config files."),
            click.option("--endpoint-url", help="S3 and Lambda API endpoint (a local or S3-compatible server)."),
            click.option("--public", is_flag=True, default=None, help="Let every account use the layer version."),
            click.option("--grant", "grants", multiple=True, help="Let this account id use it (repeatable)."),
        ]
    ):
        func = option(func)
    return func


def take_publish_options(options: dict[str, Any]) -> PublishOptions:
    """Pop what `publish_options` declared out of a command's keyword arguments."""
    from lpack.tools.publish import PublishOptions  # noqa: PLC0415 - the publish stage, for its commands only

    given = {key: options.pop(key) for key in PUBLISH_KEYS}
    return PublishOptions(
        bucket=given["bucket"],
        prefix=given["prefix"],
        region=given["region"],
        profile=given["profile"],
        endpoint_url=given["endpoint_url"],
        public=given["public"],
        grants=tuple(given["grants"]),
    )


def output(ctx: click.Context, verbose: bool, quiet: bool, json_mode: bool) -> Output:
    return Output(quiet=quiet or ctx.obj["quiet"], verbose=verbose or ctx.obj["verbose"], json_mode=json_mode)


def fail(err: LpackError, command: str, report_file: Path | None, json_mode: bool, out: Output) -> NoReturn:
    size = err.report if isinstance(err, SizeLimitError) else None
    findings = err.findings if isinstance(err, AuditError) else ()
    report = error_report(err.msg, err.hint, err.exit_code, size, command=command, findings=findings)
    try:
        write_report(report, report_file, json_mode, out, fatal=False)
    except OSError as write_err:
        # The failure being reported comes first; a report that cannot be written is only a warning here.
        out.warning(f"{report_file}: cannot write the report: {write_err.strerror}")
    out.error(err)
    if size is not None:
        out.largest(size)
    sys.exit(err.exit_code)


def write_report(
    data: dict[str, Any], report_file: Path | None, json_mode: bool, out: Output, *, fatal: bool = True
) -> None:
    """Write the report (redacted: it may echo a URL with a password) to `report_file`, and/or stdout."""
    from lpack.archive.writer import atomic_output  # noqa: PLC0415 - only with --report

    text = json.dumps(redact_data(data), indent=2, sort_keys=False)
    if report_file is not None:
        try:
            with atomic_output(report_file.resolve()) as tmp:
                tmp.write_text(text + "\n")
        except OSError as err:
            if not fatal:
                raise
            out.error(LpackError(f"{report_file}: cannot write the report: {err.strerror}"))
            sys.exit(EXIT_USAGE)
    if json_mode:
        out.json(text)


def writable(path: Path, what: str, *, directory: bool) -> None:
    """Raise ConfigError now when `path` (a directory or a file lpack will write) cannot be written.

    Checked before a build, so a bad --out or --report fails in a second, not after the whole build.
    """
    target = path.absolute()
    probe = target
    while not os.path.lexists(probe) and probe != probe.parent:
        probe = probe.parent
    if probe == target and (directory or probe.is_dir()):
        if not probe.is_dir():
            raise ConfigError(f"{what} {path}: not a directory", hint=f"choose another {what}")
        check = probe
    elif probe == target:
        check = probe.parent  # an existing file is replaced by a rename in its directory
    elif not probe.is_dir():
        raise ConfigError(f"{what} {path}: {probe} is not a directory", hint=f"choose another {what}")
    else:
        check = probe
    # os.access is false on a read-only file system even for root.
    if not os.access(check, os.W_OK | os.X_OK):
        raise ConfigError(
            f"{what} {path}: cannot write in {check}: permission denied",
            hint=f"choose another {what}, or make {check} writable by this user",
        )


def writable_cache() -> None:
    """The cache directory, checked before a build like --out: a file or a read-only path there fails now."""
    writable(default_root(), "cache directory (LPACK_CACHE_DIR)", directory=True)
