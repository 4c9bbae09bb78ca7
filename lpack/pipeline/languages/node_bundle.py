"""Node.js functions with `bundle`: one esbuild bundle where Lambda looks for the handler, plus node_modules
holding only the packages that cannot be bundled (and what they need); the bundle carries the code."""

from __future__ import annotations

from pathlib import Path

from lpack.cache import Cache
from lpack.config.model import FunctionConfig
from lpack.pipeline.languages.node import Node
from lpack.resolve.bundle import bundle
from lpack.resolve.result import Deps
from lpack.resolve.runner import Runner


class NodeBundle(Node):
    def resolve(self, fn: FunctionConfig, work: Path, runner: Runner, cache: Cache | None) -> Deps:
        resolved = bundle(fn, work / "bundle", work / "deps", runner=runner, cache=cache)
        return Deps(resolved=resolved, directory=work / "deps")

    def keep(self, rel: str, is_dir: bool) -> bool:
        # The bundle (and its source map) and the external packages; never npm's state or .bin links.
        return not rel.endswith(("/.bin/", "/.package-lock.json"))
