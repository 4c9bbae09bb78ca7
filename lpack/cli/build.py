"""`lpack build` and `lpack publish layer`: options in, one library call, the summary out."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from lpack.cli.console import Output
from lpack.cli.options import (
    fail,
    output,
    output_options,
    publish_options,
    take_publish_options,
    target_options,
    writable,
    writable_cache,
    write_report,
)
from lpack.cli.report import build_report, publish_report, verify_report
from lpack.config.load import load_config
from lpack.config.model import Overrides
from lpack.errors import LpackError
from lpack.tools.build import BuildOutcome, BuildSteps, build_with_steps
from lpack.tools.publish import publish_project_layer
from lpack.tools.sam import load_sam, read_sam, write_sam_build


@click.command()
@target_options
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
@publish_options
@click.option("-j", "--jobs", type=click.IntRange(min=1), help="Artifacts built at once [one per core].")
@click.option(
    "--locked",
    is_flag=True,
    help="Install only the locks `lpack lock` committed; exit 2 if one is missing or no longer matches its inputs.",
)
@click.option("--no-cache", is_flag=True, help="Neither read nor fill the cache (LPACK_CACHE_DIR, ~/.cache/lpack).")
@click.option(
    "--cache-remote",
    metavar="s3://BUCKET/PREFIX",
    help="Share cache entries through S3 [LPACK_CACHE_REMOTE, [tool.lpack.cache] remote].",
)
@click.option(
    "--cache-read-only",
    is_flag=True,
    help="Fetch from the remote cache, never push (untrusted builds) [LPACK_CACHE_REMOTE_READ_ONLY=1].",
)
@output_options
@click.option("--verify", "verify_after", is_flag=True, help="Import each handler from its artifact afterwards.")
@click.option(
    "--sam-template",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Build the zip functions and layers of this SAM template and write .aws-sam/build/ as sam build does.",
)
@click.option(
    "--parameter",
    "sam_parameters",
    multiple=True,
    metavar="NAME=VALUE",
    callback=lambda _ctx, _param, values: _pairs(values),
    help="With --sam-template: a template parameter's value instead of its Default (repeatable).",
)
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
    out = output(ctx, verbose, quiet, json_mode)
    out_dir = options.pop("out_dir")
    steps = BuildSteps(
        verify=verify_after,
        publish=options.pop("publish_layers"),
        create_repository=options.pop("create_repository"),
        publish_options=take_publish_options(options),
        use_cache=not no_cache,
        jobs=jobs,
    )
    template_path, parameters = options.pop("sam_template"), options.pop("sam_parameters")
    overrides = Overrides(out_dir=out_dir.resolve() if out_dir else None, **options)
    try:
        template = read_sam(template_path, parameters) if template_path else None
        config = load_sam(template, overrides) if template else load_config(project, overrides)
        writable(config.out_dir, "--out", directory=True)
        if not no_cache:
            writable_cache()
        if report_file is not None:
            writable(report_file, "--report", directory=False)
        done = build_with_steps(config, steps, on_event=out.event, on_progress=out.upload)
        verified = done.verification is None or done.verification.failure is None
        # .aws-sam/build is what `sam deploy` ships: written only for artifacts that passed.
        sam = write_sam_build(template, done.result) if template and verified else None
    except LpackError as err:
        fail(err, "build", report_file, json_mode, out)
    report = _report(done)
    if sam is not None:
        report["sam"] = {"template": str(sam.template), "resources": list(sam.resources)}
    write_report(report, report_file, json_mode, out)
    _render(done, out)
    if sam is not None:
        out.sam_written(sam.template, sam.resources)


def _pairs(values: tuple[str, ...]) -> dict[str, str]:
    pairs = {}
    for value in values:
        name, sep, text = value.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"{value!r}: expected NAME=VALUE")
        pairs[name] = text
    return pairs


def _report(done: BuildOutcome) -> dict[str, Any]:
    report = build_report(done.result, done.published)
    verification = done.verification
    if verification is not None:
        report["verify"] = [verify_report(v) for v in verification.checked]
        failure = verification.failure
        if failure is not None:
            report["verify_error"] = {"message": failure.msg, "hint": failure.hint, "exit_code": failure.exit_code}
    return report


def _render(done: BuildOutcome, out: Output) -> None:
    out.summary(done.result)
    verification = done.verification
    if verification is not None:
        for verified in verification.checked:
            out.verified(verified, show_result=False)
    if done.published is not None:
        out.published(done.published)
    if verification is not None and verification.failure is not None:
        out.error(verification.failure)
        sys.exit(verification.failure.exit_code)


@click.group()
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
@publish_options
@output_options
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
    out = output(ctx, verbose, quiet, json_mode)
    options = take_publish_options(given)
    try:
        found = publish_project_layer(
            project,
            name,
            options,
            artifact=artifact,
            expected_sha256=expected,
            on_event=out.event,
            on_progress=out.upload,
        )
    except LpackError as err:
        fail(err, "publish", report_file, json_mode, out)
    published = (found,)
    write_report(publish_report(published), report_file, json_mode, out)
    out.published(published)
