"""Command line: parse options into a BuildConfig, call the library, render. Owns every exit code."""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn, TextIO, TypeVar

import click

from lpack.archive import writer as _archive
from lpack.audit.checks import AuditReport, Finding, audit_zip
from lpack.cache import Cache
from lpack.cli.console import Output
from lpack.cli.report import (
    SCHEMA_VERSION,
    audit_json,
    build_report,
    check_report,
    diff_report,
    error_report,
    inspect_report,
    publish_report,
    verify_report,
)
from lpack.config.load import BuildConfig, FunctionConfig, Overrides, load_config
from lpack.errors import EXIT_FAILED, EXIT_TOO_BIG, EXIT_USAGE, AuditError, ConfigError, LpackError, SizeLimitError
from lpack.pipeline.build import BuildResult
from lpack.pipeline.build import build as run_build
from lpack.publish.layers import PublishResult, prepare_ecr_push, publish_layer, target_for
from lpack.runtimes import Arch, Runtime, get_runtime
from lpack.size import SizeReport
from lpack.staging.tree import file_sha256
from lpack.tools.check import check as run_check
from lpack.tools.diff import diff as run_diff
from lpack.tools.diff import load as load_snapshots
from lpack.tools.init import init as create_project
from lpack.tools.inspect import Inspection, detected_runtime, inspect_artifact
from lpack.tools.verify import VerifyResult, detect_runtime, verify
from lpack.version import __version__

F = TypeVar("F", bound=Callable[..., Any])


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="lpack")
@click.option("-v", "--verbose", is_flag=True, help="Show installer output and debug logs.")
@click.option("-q", "--quiet", is_flag=True, help="Only errors.")
@click.pass_context
def main(ctx: click.Context, verbose: bool, quiet: bool) -> None:
    """Build AWS Lambda artifacts: reproducible, right for the target, without Docker."""
    ctx.obj = {"verbose": verbose, "quiet": quiet}


def _output_options(func: F) -> F:
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


def _target_options(func: F) -> F:
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
        ]
    ):
        func = option(func)
    return func


def _publish_options(func: F) -> F:
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


def _output(ctx: click.Context, verbose: bool, quiet: bool, json_mode: bool) -> Output:
    return Output(quiet=quiet or ctx.obj["quiet"], verbose=verbose or ctx.obj["verbose"], json_mode=json_mode)


@main.command()
@_target_options
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), help="Output directory [dist].")
@click.option("--format", "format", type=click.Choice(["zip", "image"]), help="Artifact format [from config, zip].")
@click.option(
    "--output",
    "outputs",
    multiple=True,
    metavar="oci:DIR|docker-archive:FILE",
    help="Image: write the OCI layout to DIR (default OUT/NAME.oci) and/or a docker archive (repeatable).",
)
@click.option("--push", metavar="REGISTRY/REPO:TAG", help="Image: push to a registry (one manifest, by digest).")
@click.option(
    "--create-repository", is_flag=True, help="Image: create the ECR repository --push names when it is missing."
)
@click.option("--load", is_flag=True, help="Image: load into the local Docker daemon (docker SDK).")
@click.option(
    "--insecure-registry",
    "insecure_registries",
    multiple=True,
    metavar="HOST",
    help="Speak plain HTTP to this registry (localhost and 127.0.0.1 always are).",
)
@click.option("--publish", "publish_layers", is_flag=True, help="Then publish every built layer (see lpack publish).")
@_publish_options
@click.option("-j", "--jobs", type=click.IntRange(min=1), help="Artifacts built at once [one per core].")
@click.option("--no-cache", is_flag=True, help="Neither read nor fill the cache (LPACK_CACHE_DIR, ~/.cache/lpack).")
@_output_options
@click.option("--verify", "verify_after", is_flag=True, help="Import each handler from its artifact afterwards.")
@click.pass_context
def build(
    ctx: click.Context,
    /,
    *,
    project: Path,
    report_file: Path | None,
    json_mode: bool,
    verify_after: bool,
    verbose: bool,
    quiet: bool,
    jobs: int | None,
    no_cache: bool,
    **options: Any,
) -> None:
    """Build the project's functions and layers into deterministic Lambda zips or container images."""
    out = _output(ctx, verbose, quiet, json_mode)
    out_dir = options.pop("out_dir")
    publishing, given = options.pop("publish_layers"), {k: options.pop(k) for k in _PUBLISH_KEYS}
    create_repository = options.pop("create_repository")
    overrides = Overrides(out_dir=out_dir.resolve() if out_dir else None, **options)
    try:
        config = load_config(project, overrides)
        if create_repository:
            _create_repository(config, given)
        result = run_build(config, on_event=out.event, use_cache=not no_cache, jobs=jobs)
    except LpackError as err:
        _fail(err, "build", report_file, json_mode, out)
    checked, failure = _verify_built(config, result) if verify_after else ([], None)
    try:
        # Nothing is published from a build whose handlers did not verify.
        published = _publish_built(config, result, given, out) if publishing and failure is None else None
    except LpackError as err:
        _fail(err, "build", report_file, json_mode, out)
    report = build_report(result, published)
    if verify_after:
        report["verify"] = [verify_report(v) for v in checked]
        if failure is not None:
            report["verify_error"] = {"message": failure.msg, "hint": failure.hint, "exit_code": failure.exit_code}
    _write_report(report, report_file, json_mode, out)
    out.summary(result)
    for verified in checked:
        out.verified(verified, show_result=False)
    if published is not None:
        out.published(published)
    if failure is not None:
        out.error(failure)
        sys.exit(failure.exit_code)


def _create_repository(config: BuildConfig, given: dict[str, Any]) -> None:
    if not config.image.push:
        raise ConfigError("--create-repository needs --push ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPO:TAG")
    prepare_ecr_push(config.image.push, profile=given["profile"], endpoint_url=given["endpoint_url"])


_PUBLISH_KEYS = ("bucket", "prefix", "region", "profile", "endpoint_url", "public", "grants")


def _publish_built(
    config: BuildConfig, result: BuildResult, given: dict[str, Any], out: Output
) -> tuple[PublishResult, ...]:
    layers = {layer.name: layer for layer in config.layers}
    built = [fn for fn in result.functions if fn.role == "layer"]
    return tuple(_publish_one(layers[fn.name], fn.artifact.path, fn.artifact.sha256, given, out) for fn in built)


def _publish_one(layer: FunctionConfig, path: Path, sha256: str, given: dict[str, Any], out: Output) -> PublishResult:
    return publish_layer(
        path,
        name=layer.name,
        sha256=sha256,
        compatible_runtimes=layer.compatible_runtimes,
        compatible_architectures=layer.compatible_architectures,
        target=target_for(layer.publish, **given),
        on_progress=out.upload,
    )


def _verify_built(config: BuildConfig, result: BuildResult) -> tuple[list[VerifyResult], LpackError | None]:
    """Verify every Python or Node.js function with its layers; stop at the first that fails or cannot run."""
    checked: list[VerifyResult] = []
    zips = {built.name: built.artifact.path for built in result.functions}
    for fn in config.functions:
        if fn.kind == "prebuilt" or fn.runtime.language not in ("python", "node"):
            continue  # a custom runtime's bootstrap is a program of its own: nothing to import
        layer_zips = [zips[name] for name in fn.layers]
        try:
            found = verify(zips[fn.name], handler=fn.handler, runtime=fn.runtime, layers=layer_zips, python=fn.python)
        except LpackError as err:
            return checked, err.prefixed(f"verify {fn.name}") if len(config.functions) > 1 else err
        checked.append(found)
    return checked, None


@main.command(name="verify")
@click.argument("artifact", type=click.Path(dir_okay=False, exists=True, path_type=Path))
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
    json_mode: bool,
    verbose: bool,
) -> None:
    """Import the handler from ARTIFACT as Lambda would, time the init, and optionally invoke it."""
    out = Output(quiet=ctx.obj["quiet"], verbose=verbose or ctx.obj["verbose"], json_mode=json_mode)
    try:
        target = _verify_target(artifact, handler, runtime_name, report_file)
        event = event_file.read() if event_file is not None else None
        result = verify(artifact, handler=target[1], runtime=target[0], layers=layers, event=event, python=python)
    except LpackError as err:
        _fail(err, "verify", None, json_mode, out)
    if json_mode:
        out.json(json.dumps({"schema_version": SCHEMA_VERSION, "command": "verify", **verify_report(result)}, indent=2))
    else:
        out.verified(result, show_result=True)


def _verify_target(
    artifact: Path, handler: str | None, runtime_name: str | None, report_file: Path | None
) -> tuple[Runtime, str]:
    from_report = _from_report(report_file, artifact) if report_file else {}
    name = runtime_name or from_report.get("runtime")
    runtime = _runtime_named(name) if name else detect_runtime(artifact)
    if runtime is None:
        raise ConfigError(
            f"{artifact.name}: cannot tell which runtime it is for (no single python3.X bytecode tag)",
            hint="pass --runtime python3.X or --report with lpack's build report",
        )
    handler = handler or from_report.get("handler")
    if not handler:
        raise ConfigError("which handler? pass --handler module.function", hint="or --report with the build report")
    return runtime, handler


def _runtime_named(name: str) -> Runtime:
    try:
        return get_runtime(name)
    except KeyError:
        raise ConfigError(f'unknown runtime "{name}"', hint="e.g. --runtime python3.12") from None


def _from_report(report_file: Path, artifact: Path) -> dict[str, str]:
    try:
        entries = json.loads(report_file.read_text())["artifacts"]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ConfigError(f"{report_file}: not an lpack build report ({err})") from None
    found = [e for e in entries if Path(e.get("path", "")).name == artifact.name] or entries[:1]
    return {k: str(found[0][k]) for k in ("runtime", "handler") if found and k in found[0]}


@main.command()
@_target_options
@_output_options
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
    out = _output(ctx, verbose, quiet, json_mode)
    try:
        result = run_check(load_config(project, Overrides(**options)), on_event=out.event)
    except LpackError as err:
        _fail(err, "check", report_file, json_mode, out)
    _write_report(check_report(result), report_file, json_mode, out)
    out.check(result)
    if result.over:
        sys.exit(EXIT_TOO_BIG)


@main.command()
@click.argument("artifact", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--runtime", "runtime_name", help="Audit for this runtime; default: the zip's bytecode tags.")
@click.option("--arch", "architecture", type=click.Choice(["x86_64", "arm64"]), help="Default: its ELF files'.")
@_output_options
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
    out = _output(ctx, verbose, quiet, json_mode)
    try:
        found = inspect_artifact(artifact)
        audited = _inspect_audit(found, runtime_name, architecture)
    except LpackError as err:
        _fail(err, "inspect", report_file, json_mode, out)
    report = inspect_report(found)
    report["audit"] = audit_json(audited) if audited is not None else None
    _write_report(report, report_file, json_mode, out)
    out.inspection(found)
    out.audit(audited)
    if any(f.severity == "error" for f in found.findings):
        sys.exit(EXIT_TOO_BIG)
    if audited is not None and audited.errors:
        sys.exit(EXIT_FAILED)


def _inspect_audit(found: Inspection, runtime_name: str | None, arch: Arch | None) -> AuditReport | None:
    """The build's audit, for the runtime the zip was built for; None when no runtime is known."""
    runtime = _runtime_named(runtime_name) if runtime_name else detected_runtime(found)
    if runtime is None:
        return None
    # Mixed machines: audit against the most common one, so the odd files out are the findings.
    machines = Counter(n.machine for n in found.natives).most_common(1)
    detected: Arch = "arm64" if machines and machines[0][0] == "aarch64" else "x86_64"
    return audit_zip(found.path, runtime, arch or detected)


@main.command()
@click.argument("old", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("new", type=click.Path(dir_okay=False, path_type=Path))
@_output_options
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
    out = _output(ctx, verbose, quiet, json_mode)
    try:
        diffs = run_diff(load_snapshots(old), load_snapshots(new))
    except LpackError as err:
        _fail(err, "diff", report_file, json_mode, out)
    _write_report(diff_report(diffs), report_file, json_mode, out)
    out.diff(diffs)


@main.group()
def publish() -> None:
    """Publish artifacts: layers to S3 and Lambda, once per content."""


@publish.command("layer")
@click.argument("name")
@click.argument("project", default=".", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--artifact",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Publish this layer zip instead of building the layer.",
)
@click.option("--sha256", "expected", help="With --artifact: the sha256 its build report gives; refused if it differs.")
@_publish_options
@_output_options
@click.pass_context
def publish_layer_command(
    ctx: click.Context,
    /,
    *,
    name: str,
    project: Path,
    artifact: Path | None,
    expected: str | None,
    report_file: Path | None,
    json_mode: bool,
    verbose: bool,
    quiet: bool,
    **given: Any,
) -> None:
    """Build layer NAME of PROJECT, upload it to S3 and register it with PublishLayerVersion.

    Prints the LayerVersionArn. When the layer's newest version already has this content (by sha256),
    prints that version's ARN and creates nothing.
    """
    out = _output(ctx, verbose, quiet, json_mode)
    try:
        # Only this layer: functions are not built to publish it (the --layer selection).
        config = load_config(project, Overrides(layers=(name,)))
        if artifact is None:
            built = run_build(config, on_event=out.event).functions[0].artifact
            path, sha256 = built.path, built.sha256
        else:
            path, sha256 = artifact, (expected or file_sha256(artifact)).lower()
        published = (_publish_one(config.layers[0], path, sha256, given, out),)
    except LpackError as err:
        _fail(err, "publish", report_file, json_mode, out)
    _write_report(publish_report(published), report_file, json_mode, out)
    out.published(published)


@main.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--template", default="python", show_default=True, help="python, or another name in templates/.")
@click.pass_context
def init(ctx: click.Context, /, *, directory: Path, template: str) -> None:
    """Start a new function project in DIRECTORY from a template (never overwrites a file)."""
    out = _output(ctx, False, False, False)
    try:
        written = create_project(template, directory)
    except LpackError as err:
        out.error(err)
        sys.exit(err.exit_code)
    out.created(directory, written)


def _fail(err: LpackError, command: str, report_file: Path | None, json_mode: bool, out: Output) -> NoReturn:
    size = err.report if isinstance(err, SizeLimitError) and isinstance(err.report, SizeReport) else None
    findings = tuple(f for f in err.findings if isinstance(f, Finding)) if isinstance(err, AuditError) else ()
    report = error_report(err.msg, err.hint, err.exit_code, size, command=command, findings=findings)
    _write_report(report, report_file, json_mode, out)
    out.error(err)
    if size is not None:
        out.largest(size)
    sys.exit(err.exit_code)


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
