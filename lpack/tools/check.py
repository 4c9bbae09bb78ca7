"""`lpack check`: every artifact's sizes against Lambda's limits and the budget, with what would help.

It builds into a scratch directory (dist/ is left alone) without enforcing the limits, then turns the
findings and the artifact's own contents into concrete suggestions, each with what it would save.
"""

from __future__ import annotations

import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from lpack import runtimes
from lpack.config.model import BuildConfig, FunctionConfig
from lpack.emit.base import Artifact
from lpack.pipeline.build import EventHandler, FunctionResult, build
from lpack.resolve.runner import Runner, run_subprocess
from lpack.staging import dists as _dists
from lpack.staging.packages import Member, Package, Reader, packages, python_owners
from lpack.staging.patterns import Patterns
from lpack.tools.image_files import own_files
from lpack.tools.image_files import read as read_image_file
from lpack.units import format_size

# Files a function rarely needs at run time that the safe profile keeps (they can be imported or read).
# Each is offered as a `prune.remove` pattern when it holds enough bytes to matter.
_PRUNE_CANDIDATES = (
    ("**/locale/", "translations"),
    ("**/benchmarks/", "benchmark suites"),
    ("**/testing/", "test helpers (numpy.testing, pandas._testing style)"),
    ("**/include/", "C headers directories"),
    ("*.dist-info/licenses/", "license files (keep them if you redistribute)"),
    ("**/*.a", "static libraries"),
    ("**/*.md", "Markdown files"),
    ("**/*.pxd", "Cython declarations"),
)
_WORTH_MB = 1_000_000  # a suggestion must save at least this much, or 5% of the artifact


@dataclass(frozen=True, slots=True, kw_only=True)
class Suggestion:
    message: str
    saves_bytes: int | None  # unzipped bytes it would save, when that can be computed


@dataclass(frozen=True, slots=True, kw_only=True)
class FunctionCheck:
    result: FunctionResult
    suggestions: tuple[Suggestion, ...]
    # What the function itself weighs: the zip, or an image's own layers (the base's are not the function's).
    zipped_bytes: int
    unzipped_bytes: int
    limit_bytes: int  # the Lambda limit its unzipped size counts toward: 250 MB with layers, or an image's 10 GB

    @property
    def over(self) -> bool:
        return self.result.size.over


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckResult:
    functions: tuple[FunctionCheck, ...]

    @property
    def over(self) -> bool:
        return any(f.over for f in self.functions)


def check(config: BuildConfig, *, runner: Runner = run_subprocess, on_event: EventHandler | None = None) -> CheckResult:
    """Size every function without touching `config.out_dir`; suggestions for each."""
    with tempfile.TemporaryDirectory(prefix="lpack-check-") as tmp:
        scratch = replace(config, out_dir=Path(tmp) / "out")
        built = build(scratch, runner=runner, on_event=on_event, enforce_limits=False)
        configs = {(fn.role, fn.name): fn for fn in (*config.layers, *config.functions)}
        checks = [_check_one(configs[r.role, r.name], r) for r in built.functions]
    return CheckResult(functions=tuple(checks))


def _check_one(fn: FunctionConfig, result: FunctionResult) -> FunctionCheck:
    image = result.artifact.image
    if image is None:
        zipped, unzipped, limit = result.size.zipped_bytes, result.size.unzipped_bytes, runtimes.MAX_UNZIPPED
    else:
        own = [layer for layer in image.layers if layer.origin != "base"]
        zipped, unzipped = sum(layer.size for layer in own), sum(layer.uncompressed_size for layer in own)
        limit = runtimes.MAX_IMAGE_BYTES
    return FunctionCheck(
        result=result,
        suggestions=tuple(suggest(fn, result, unzipped)),
        zipped_bytes=zipped,
        unzipped_bytes=unzipped,
        limit_bytes=limit,
    )


def suggest(fn: FunctionConfig, result: FunctionResult, unzipped: int) -> list[Suggestion]:
    """What would shrink this artifact (`unzipped` bytes its own), from what the build measured; largest first."""
    with _contents(result.artifact) as (members, read):
        # An image's size report counts the base's layers and lists no packages: name the function's own.
        found = result.size.packages or packages(members, read)
        provided = _runtime_provided(fn, found, members, read)
    worth = max(_WORTH_MB, unzipped // 20)
    suggestions = [*provided, *_prune_patterns(members, worth), *_layer_or_image(fn, result)]
    return sorted(suggestions, key=lambda s: -(s.saves_bytes or 0))


@contextmanager
def _contents(artifact: Artifact) -> Iterator[tuple[list[Member], Reader]]:
    """The artifact's files and a reader of one, read in place: a zip's members, or an image's own layers."""
    if artifact.image is None:
        with zipfile.ZipFile(artifact.path) as zf:
            yield [Member(path=i.filename, size=i.file_size) for i in zf.infolist() if not i.is_dir()], zf.read
        return
    with own_files(artifact.path, artifact.image) as found:
        members = [Member(path=path, size=info.size) for path, (_, info) in found.items()]
        yield members, lambda path: read_image_file(found[path])


def _runtime_provided(
    fn: FunctionConfig, found: tuple[Package, ...], members: list[Member], read: Reader
) -> list[Suggestion]:
    if fn.exclude_runtime_provided:
        return []
    owners = python_owners(members, read)
    # What the build's pruner would remove: the SDK and what only it needs (requests keeps urllib3).
    doomed = _dists.removable_dists(owners.requires, set(runtimes.RUNTIME_PROVIDED_PYTHON), set())
    saved = sum(p.bytes for p in found if p.kind == "python" and p.name in doomed)
    if not saved:
        return []
    return [
        Suggestion(
            message=f"set exclude-runtime-provided = true: the {fn.runtime.name} runtime already has "
            f"boto3/botocore; saves {format_size(saved)}",
            saves_bytes=saved,
        )
    ]


def _prune_patterns(members: list[Member], worth: int) -> list[Suggestion]:
    sizes = {m.path: m.size for m in members}
    found = []
    for pattern, what in _PRUNE_CANDIDATES:
        matched = Patterns([pattern]).matching(sizes)
        saved = sum(sizes[p] for p in matched)
        if saved >= worth:
            found.append(
                Suggestion(
                    message=f'prune {what}: add "{pattern}" to prune.remove ({len(matched)} files, '
                    f"{format_size(saved)}) if nothing reads them",
                    saves_bytes=saved,
                )
            )
    return found


def _layer_or_image(fn: FunctionConfig, result: FunctionResult) -> list[Suggestion]:
    if result.artifact.image is not None:
        return []  # an image takes no layers and is already the larger format
    size = result.size
    found = []
    deps = [p for p in size.packages if p.kind != "code"]
    if size.over and deps:
        top = deps[0]
        found.append(
            Suggestion(
                message=f"move {top.name} ({format_size(top.bytes)}) into a layer shared by your functions "
                "(layers count toward the 250 MB unzipped limit, not the zip's 50 MB)",
                saves_bytes=top.bytes,
            )
        )
    if size.unzipped_bytes > runtimes.MAX_UNZIPPED:
        found.append(
            Suggestion(message='switch to a container image (format = "image"): images may be 10 GB', saves_bytes=None)
        )
    if fn.budget.edge and fn.architecture == "arm64":
        found.append(Suggestion(message='Lambda@Edge runs x86_64 only: set architecture = "x86_64"', saves_bytes=None))
    return found
