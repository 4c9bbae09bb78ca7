"""Python functions and layers: uv/pip into a target directory, cached by lock; hash-based bytecode."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lpack.audit.handler import check_python_handler
from lpack.cache import Cache
from lpack.config.model import FunctionConfig
from lpack.pipeline import reuse
from lpack.prune.base import Profile
from lpack.prune.python import profile as python_profile
from lpack.resolve.python import installer_state, resolve
from lpack.resolve.result import Deps
from lpack.resolve.runner import Runner
from lpack.runtimes import RUNTIME_PROVIDED_PYTHON
from lpack.staging.tree import StagingTree


@dataclass(frozen=True, slots=True, kw_only=True)
class Python:
    name: str = "python"
    prune_profile: Profile = python_profile
    provided: tuple[str, ...] = RUNTIME_PROVIDED_PYTHON
    bytecode: bool = True

    def resolve(self, fn: FunctionConfig, work: Path, runner: Runner, cache: Cache | None) -> Deps:
        if cache is not None:  # locks and installed trees come from the cache, by content key
            return reuse.resolve_cached(fn, work, runner, cache)
        return Deps(resolved=resolve(fn, work / "deps", work / "resolve", runner=runner), directory=work / "deps")

    def keep(self, rel: str, is_dir: bool) -> bool:
        return not installer_state(rel, is_dir)

    def check(self, fn: FunctionConfig, tree: StagingTree) -> tuple[StagingTree, list[str]]:
        return tree, check_python_handler(fn, tree) if fn.role == "function" else []
