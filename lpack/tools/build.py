"""`lpack build` with what may follow it: verify each handler, then publish the layers, from what the build returned."""

from __future__ import annotations

from dataclasses import dataclass, field

from lpack.config.model import BuildConfig
from lpack.pipeline.build import BuildResult, EventHandler, build
from lpack.publish.layers import ProgressHandler, PublishResult
from lpack.tools.publish import PublishOptions, create_repository, publish_built
from lpack.tools.verify import BuildVerification, verify_build


@dataclass(frozen=True, slots=True, kw_only=True)
class BuildSteps:
    verify: bool = False  # import each handler from its artifact afterwards
    publish: bool = False  # then publish every built layer
    create_repository: bool = False  # first create the ECR repository the image's push names
    publish_options: PublishOptions = field(default_factory=PublishOptions)
    use_cache: bool = True
    jobs: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class BuildOutcome:
    result: BuildResult
    verification: BuildVerification | None  # None without `verify`
    published: tuple[PublishResult, ...] | None  # None without `publish`, or when a handler failed to verify


def build_with_steps(
    config: BuildConfig,
    steps: BuildSteps,
    *,
    on_event: EventHandler | None = None,
    on_progress: ProgressHandler | None = None,
) -> BuildOutcome:
    """Build, then verify and publish as `steps` say. A handler that fails to verify is in the outcome, not raised."""
    if steps.create_repository:
        create_repository(config, steps.publish_options)
    result = build(config, on_event=on_event, use_cache=steps.use_cache, jobs=steps.jobs)
    verification = verify_build(config, result) if steps.verify else None
    published = None
    # Nothing is published from a build whose handlers did not verify.
    if steps.publish and (verification is None or verification.failure is None):
        published = publish_built(config, result, steps.publish_options, on_progress=on_progress)
    return BuildOutcome(result=result, verification=verification, published=published)
