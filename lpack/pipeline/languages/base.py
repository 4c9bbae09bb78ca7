"""What differs by language, behind one small interface: a new language is one new file here."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from lpack.cache import Cache
from lpack.config.model import FunctionConfig
from lpack.prune.base import Profile
from lpack.resolve.result import Deps
from lpack.resolve.runner import Runner
from lpack.staging.tree import StagingTree


class Language(Protocol):
    @property
    def name(self) -> str:
        """Python, node or prebuilt (or another runtime's language, for a layer of bin/ and lib/ only)."""

    @property
    def prune_profile(self) -> Profile:
        """What pruning removes for this language: prune.python.profile, prune.node.profile, ..."""

    @property
    def provided(self) -> tuple[str, ...]:
        """What the runtime already carries, removed when the config excludes runtime-provided packages."""

    @property
    def bytecode(self) -> bool:
        """Whether the artifact gets compiled .pyc."""

    def resolve(self, fn: FunctionConfig, work: Path, runner: Runner, cache: Cache | None) -> Deps:
        """Install `fn`'s dependencies under `work` (or take them from `cache`)."""

    def keep(self, rel: str, is_dir: bool) -> bool:
        """Whether an installed file (or directory, with a trailing /) goes into the staging tree."""

    def check(self, fn: FunctionConfig, tree: StagingTree) -> tuple[StagingTree, list[str]]:
        """The pruned tree checked for what Lambda starts (handler, bootstrap); warnings for doubtful cases."""
