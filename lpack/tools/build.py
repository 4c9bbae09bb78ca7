"""`lpack build` with what may follow it: verify each handler, then publish the layers, from what the build returned."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from lpack.config.model import BuildConfig, FunctionConfig
from lpack.errors import LpackError, NoInterpreterError, VerifyError
from lpack.pipeline.build import BuildResult, EventHandler, FunctionResult, artifact_path, build
from lpack.tools.publish import PublishOptions, create_repository, publish_built

# tools.verify (its sandbox, dotenv) is imported where a handler is verified: only with `build --verify`.
if TYPE_CHECKING:
    from lpack.publish.layers import ProgressHandler, PublishResult
    from lpack.tools.verify import VerifyResult


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
    before = _VerifyBeforeReplace(config.out_dir) if steps.verify else None
    result = build(config, on_event=on_event, use_cache=steps.use_cache, jobs=steps.jobs, before_replace=before)
    verification = verify_build(config, result, done=before.checked) if before else None
    published = None
    # Nothing is published from a build whose handlers did not verify.
    if steps.publish and (verification is None or verification.failure is None):
        published = publish_built(config, result, steps.publish_options, on_progress=on_progress)
    return BuildOutcome(result=result, verification=verification, published=published)


class _VerifyBeforeReplace:
    """`build --verify` for a zip written afresh: its handler is imported from the temporary zip, and a
    failure keeps the previous artifact (the build fails with the import error). What cannot be verified
    here (no interpreter of the runtime: exit 4) is written, and verify_build reports it afterwards."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        self.checked: dict[str, VerifyResult] = {}

    def __call__(self, fn: FunctionConfig, tmp: Path, used: Sequence[FunctionResult]) -> None:
        if not verifiable(fn):
            return
        dest = artifact_path(fn, self.out_dir)
        layers = [u.artifact.path for u in used]
        from lpack.tools.verify import verify  # noqa: PLC0415 - see the imports

        try:
            found = verify(
                tmp, handler=fn.handler, runtime=fn.runtime, layers=layers, python=fn.python, env=dict(fn.environment)
            )
        except NoInterpreterError:
            return
        except VerifyError as err:
            kept = f"{dest.name} was not replaced" if dest.is_file() else f"{dest.name} was not written"
            hint = f"{err.hint}; {kept}" if err.hint else kept
            raise VerifyError(err.msg, hint=hint, details=err.details) from None
        self.checked[fn.name] = dataclasses.replace(found, artifact=dest)


@dataclass(frozen=True, slots=True, kw_only=True)
class BuildVerification:
    """`lpack build --verify`: the functions verified, in order, up to the first that failed."""

    checked: tuple[VerifyResult, ...]
    failure: LpackError | None  # why the last one failed or could not run; None when all passed


def verifiable(fn: FunctionConfig) -> bool:
    """Whether `build --verify` imports `fn`'s handler: a Python or Node.js function, not a layer."""
    # A custom runtime's bootstrap is a program of its own: nothing to import.
    return fn.role == "function" and fn.kind != "prebuilt" and fn.runtime.language in ("python", "node")


def verify_build(
    config: BuildConfig, result: BuildResult, *, done: Mapping[str, VerifyResult] | None = None
) -> BuildVerification:
    """Verify every Python or Node.js function `result` built, with its layers; stop at the first failure.

    An image function is verified from its own layers (the base's runtime is not there, as for a zip).
    `done` are functions already verified before their artifact replaced the previous one.
    """
    from lpack.tools.verify import verify  # noqa: PLC0415 - see the imports

    checked: list[VerifyResult] = []
    built = {fn.name: fn.artifact for fn in result.functions}
    for fn in config.functions:
        if not verifiable(fn):
            continue
        if done and fn.name in done:
            checked.append(done[fn.name])
            continue
        artifact = built[fn.name]
        try:
            found = verify(
                artifact.path,
                handler=fn.handler,
                runtime=fn.runtime,
                layers=[built[name].path for name in fn.layers],
                python=fn.python,
                image=artifact.image,
                env=dict(fn.environment),
            )
        except LpackError as err:
            failure = err.prefixed(f"verify {fn.name}") if len(config.functions) > 1 else err
            return BuildVerification(checked=tuple(checked), failure=failure)
        checked.append(found)
    return BuildVerification(checked=tuple(checked), failure=None)
