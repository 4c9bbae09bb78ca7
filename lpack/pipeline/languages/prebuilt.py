"""A directory another toolchain built (Go, Rust, Java, .NET, Ruby): packed as it is, nothing resolved."""

from __future__ import annotations

from pathlib import Path

from lpack.audit.bootstrap import check_bootstrap
from lpack.cache import Cache
from lpack.config.model import FunctionConfig
from lpack.prune.base import as_built
from lpack.resolve.result import NOTHING, Deps
from lpack.resolve.runner import Runner
from lpack.staging.tree import StagingTree


class Prebuilt:
    name = "prebuilt"
    prune_profile = staticmethod(as_built)
    provided: tuple[str, ...] = ()
    bytecode = False

    def resolve(self, fn: FunctionConfig, work: Path, runner: Runner, cache: Cache | None) -> Deps:
        return Deps(resolved=NOTHING, directory=work / "deps")  # never created: no dependencies

    def keep(self, rel: str, is_dir: bool) -> bool:
        return True

    def check(self, fn: FunctionConfig, tree: StagingTree) -> tuple[StagingTree, list[str]]:
        return check_bootstrap(fn, tree), []  # the handler is the toolchain's business
