"""Node.js functions and layers: `npm ci` for the target into node_modules; no bytecode."""

from __future__ import annotations

from pathlib import Path

from lpack.audit.handler import check_node_handler
from lpack.cache import Cache
from lpack.config.model import FunctionConfig
from lpack.prune.node import PROVIDED_SCOPES, profile
from lpack.resolve.node import resolve_node_deps
from lpack.resolve.result import Deps
from lpack.resolve.runner import Runner
from lpack.staging.tree import StagingTree


class Node:
    name = "node"
    prune_profile = staticmethod(profile)
    provided = PROVIDED_SCOPES
    bytecode = False

    def resolve(self, fn: FunctionConfig, work: Path, runner: Runner, cache: Cache | None) -> Deps:
        return Deps(resolved=resolve_node_deps(fn, work / "deps", runner=runner, cache=cache), directory=work / "deps")

    def keep(self, rel: str, is_dir: bool) -> bool:
        # Only the installed tree: not the package.json copies npm ran in, nor npm's own state and its
        # .bin links (at any depth: nested node_modules have them too).
        return rel.startswith("node_modules") and not rel.endswith(("/.bin/", "/.package-lock.json"))

    def check(self, fn: FunctionConfig, tree: StagingTree) -> tuple[StagingTree, list[str]]:
        return tree, check_node_handler(fn, tree) if fn.role == "function" else []
