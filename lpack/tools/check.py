"""`lpack check`: every artifact's sizes against Lambda's limits and the budget, with what would help.

It builds into a scratch directory (dist/ is left alone) without enforcing the limits, then turns the
findings and the artifact's own contents into concrete suggestions, each with what it would save.
"""

from __future__ import annotations

import tempfile
import zipfile
from dataclasses import dataclass, replace
from pathlib import Path

from lpack import runtimes
from lpack.config.load import BuildConfig, FunctionConfig
from lpack.pipeline.build import EventHandler, FunctionResult, build
from lpack.resolve.runner import Runner, run_subprocess
from lpack.staging import dists as _dists
from lpack.staging.patterns import Patterns
from lpack.staging.tree import StagingTree, scan
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
        checks = [
            FunctionCheck(result=r, suggestions=tuple(suggest(configs[r.role, r.name], r, Path(tmp) / r.role / r.name)))
            for r in built.functions
        ]
    return CheckResult(functions=tuple(checks))


def suggest(fn: FunctionConfig, result: FunctionResult, scratch: Path) -> list[Suggestion]:
    """What would shrink this artifact, computed from what it holds; largest saving first."""
    zip_path = result.artifact.path
    tree_dir = scratch / "unzipped"
    with zipfile.ZipFile(zip_path) as zf:
        zf.extractall(tree_dir)
    tree = scan(tree_dir, "deps")
    worth = max(_WORTH_MB, result.size.unzipped_bytes // 20)
    found = [*_runtime_provided(fn, tree), *_prune_patterns(tree, worth), *_layer_or_image(fn, result)]
    return sorted(found, key=lambda s: -(s.saves_bytes or 0))


def _runtime_provided(fn: FunctionConfig, tree: StagingTree) -> list[Suggestion]:
    if fn.exclude_runtime_provided:
        return []
    paths = _dists.removable_paths(tree, set(runtimes.RUNTIME_PROVIDED_PYTHON), set())
    saved = sum(e.size for e in tree if e.path in paths)
    if not saved:
        return []
    return [
        Suggestion(
            message=f"set exclude-runtime-provided = true: the {fn.runtime.name} runtime already has "
            f"boto3/botocore; saves {format_size(saved)}",
            saves_bytes=saved,
        )
    ]


def _prune_patterns(tree: StagingTree, worth: int) -> list[Suggestion]:
    sizes = {e.path: e.size for e in tree}
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
