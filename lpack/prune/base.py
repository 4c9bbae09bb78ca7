"""What every prune profile shares: the shape of a profile and the bytecode no artifact ships from disk."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Protocol

from lpack.config.model import PruneConfig
from lpack.staging.tree import Entry, StagingTree

ImportsOf = Callable[[Entry], frozenset[str]]
Removals = list[tuple[str, set[str]]]  # (rule name, archive paths), in report order


class Profile(Protocol):
    """One language's rules: what to remove from `tree`; `provided` non-empty means the runtime-provided set."""

    def __call__(
        self,
        tree: StagingTree,
        config: PruneConfig,
        *,
        provided: set[str],
        direct: Iterable[str],
        imports_of: ImportsOf,
    ) -> Removals: ...


def is_bytecode(entry: Entry) -> bool:
    return "__pycache__" in entry.path.split("/") or entry.path.endswith((".pyc", ".pyo"))


def stale_bytecode(tree: StagingTree) -> tuple[str, set[str]]:
    # Bytecode is never shipped from disk: timestamp pyc next to fixed zip dates is stale on every
    # cold start (aws-lambda-builders#924). The bytecode stage compiles hash-based pyc instead.
    return "bytecode caches", {e.path for e in tree if is_bytecode(e) and e.origin != "bytecode"}


def generic(
    tree: StagingTree, config: PruneConfig, *, provided: set[str], direct: Iterable[str], imports_of: ImportsOf
) -> Removals:
    """A runtime without rules of its own (a layer for a custom runtime): stale bytecode only."""
    return [stale_bytecode(tree)]


def as_built(
    tree: StagingTree, config: PruneConfig, *, provided: set[str], direct: Iterable[str], imports_of: ImportsOf
) -> Removals:
    """Another toolchain's output (kind = "prebuilt"): nothing but what the user asks to remove."""
    return []
