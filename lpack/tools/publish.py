"""Publishing what a build made: every built layer, or one layer of a project (`lpack publish layer`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from lpack.config.load import load_config
from lpack.config.model import BuildConfig, FunctionConfig, Overrides
from lpack.errors import ConfigError
from lpack.pipeline.build import BuildResult, EventHandler, build
from lpack.staging.tree import file_sha256

# The publish stage (S3, Lambda, ECR clients) is imported by the functions that publish: `lpack build` imports
# this module for PublishOptions, and a build that publishes nothing need not load it.
if TYPE_CHECKING:
    from lpack.publish.layers import ProgressHandler, PublishResult


@dataclass(frozen=True, slots=True, kw_only=True)
class PublishOptions:
    """The command line's publish options; None (or empty) leaves the layer's `publish` table's value."""

    bucket: str | None = None
    prefix: str | None = None
    region: str | None = None
    profile: str | None = None
    endpoint_url: str | None = None
    public: bool | None = None
    grants: tuple[str, ...] = ()


def create_repository(config: BuildConfig, options: PublishOptions) -> None:
    """`--create-repository`: make the ECR repository the image's `--push` names, before building."""
    if not config.image.push:
        raise ConfigError("--create-repository needs --push ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPO:TAG")
    from lpack.publish.layers import prepare_ecr_push  # noqa: PLC0415 - see the imports

    prepare_ecr_push(config.image.push, profile=options.profile, endpoint_url=options.endpoint_url)


def publish_built(
    config: BuildConfig, result: BuildResult, options: PublishOptions, *, on_progress: ProgressHandler | None = None
) -> tuple[PublishResult, ...]:
    """Publish every layer `result` built, with the zip and sha256 the build returned."""
    layers = {layer.name: layer for layer in config.layers}
    built = [fn for fn in result.functions if fn.role == "layer"]
    return tuple(
        publish_one(layers[fn.name], fn.artifact.path, fn.artifact.sha256, options, on_progress=on_progress)
        for fn in built
    )


def publish_one(
    layer: FunctionConfig,
    path: Path,
    sha256: str,
    options: PublishOptions,
    *,
    on_progress: ProgressHandler | None = None,
) -> PublishResult:
    from lpack.publish.layers import publish_layer, target_for  # noqa: PLC0415 - see the imports

    return publish_layer(
        path,
        name=layer.name,
        sha256=sha256,
        compatible_runtimes=layer.compatible_runtimes,
        compatible_architectures=layer.compatible_architectures,
        target=target_for(
            layer.publish,
            bucket=options.bucket,
            prefix=options.prefix,
            region=options.region,
            profile=options.profile,
            endpoint_url=options.endpoint_url,
            public=options.public,
            grants=options.grants,
        ),
        on_progress=on_progress,
    )


def publish_project_layer(
    project: Path,
    name: str,
    options: PublishOptions,
    *,
    artifact: Path | None = None,
    expected_sha256: str | None = None,
    on_event: EventHandler | None = None,
    on_progress: ProgressHandler | None = None,
) -> PublishResult:
    """Build layer `name` of `project` (or take `artifact`, a zip of it) and publish it."""
    # Only this layer: functions are not built to publish it (the --layer selection).
    config = load_config(project, Overrides(layers=(name,)))
    if artifact is None:
        built = build(config, on_event=on_event).functions[0].artifact
        path, sha256 = built.path, built.sha256
    else:
        path, sha256 = artifact, (expected_sha256 or file_sha256(artifact)).lower()
    return publish_one(config.layers[0], path, sha256, options, on_progress=on_progress)
