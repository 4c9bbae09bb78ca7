"""The prune stage: a language's profile, then the user's patterns, with `keep` saving what it names."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from lpack.config.model import PruneConfig
from lpack.prune import python as _python
from lpack.prune.base import ImportsOf, Profile, Removals
from lpack.prune.python import file_imports
from lpack.staging.patterns import Patterns
from lpack.staging.tree import StagingTree


@dataclass(frozen=True, slots=True, kw_only=True)
class RuleResult:
    rule: str
    files: int
    bytes: int


@dataclass(frozen=True, slots=True, kw_only=True)
class PruneReport:
    rules: tuple[RuleResult, ...]
    kept_by_user: int  # files a `keep` pattern saved from a rule

    @property
    def files(self) -> int:
        return sum(r.files for r in self.rules)

    @property
    def bytes(self) -> int:
        return sum(r.bytes for r in self.rules)


def prune(
    tree: StagingTree,
    config: PruneConfig,
    *,
    profile: Profile = _python.profile,
    runtime_provided: Iterable[str] = (),
    direct: Iterable[str] = (),
    imports_of: ImportsOf | None = None,
) -> tuple[StagingTree, PruneReport]:
    """Apply the language's `profile`, the runtime-provided exclusion and the user's patterns to `tree`.

    `runtime_provided` non-empty means: drop what the runtime carries (boto3, the AWS SDK v3).
    `imports_of(entry)` gives the modules a file imports (default: `file_imports`); a build passes one
    that remembers the answers for cached dependencies, which never change.
    """
    removals = profile(
        tree, config, provided=set(runtime_provided), direct=direct, imports_of=imports_of or file_imports
    )
    if config.remove:
        removals.append(("user remove patterns", Patterns(config.remove).matching(tree.paths())))
    return _apply(tree, removals, Patterns(config.keep))


def _apply(tree: StagingTree, removals: Removals, keep: Patterns) -> tuple[StagingTree, PruneReport]:
    sizes = {e.path: e.size for e in tree}
    gone: set[str] = set()
    counts: dict[str, list[int]] = {}
    saved: set[str] = set()
    for name, paths in removals:
        kept = {p for p in paths if keep.match(p)}
        saved |= kept
        new = paths - kept - gone
        gone |= new
        files, size = counts.setdefault(name, [0, 0])
        counts[name] = [files + len(new), size + sum(sizes[p] for p in new)]
    results = tuple(RuleResult(rule=n, files=c[0], bytes=c[1]) for n, c in counts.items() if c[0])
    return tree.without(gone), PruneReport(rules=results, kept_by_user=len(saved))
