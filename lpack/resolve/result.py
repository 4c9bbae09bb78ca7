"""What every resolver returns, whatever the language."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True, slots=True, kw_only=True)
class Resolved:
    """What was installed into the staging directory, and how."""

    lock: Path | None  # the hash-pinned requirements that were installed
    direct: frozenset[str]  # canonical names the user asked for by name
    installer: str  # "uv", "pip", "npm" or "none"
    built_wheel: bool = False  # the project's own wheel was installed: it carries the code
    notes: tuple[str, ...] = field(default=())  # what was done, for -v and the report
    warnings: tuple[str, ...] = field(default=())  # what the user should act on, shown with the build's warnings


NOTHING = Resolved(lock=None, direct=frozenset(), installer="none")


@dataclass(frozen=True, slots=True, kw_only=True)
class Deps:
    """Resolved dependencies: how, the directory holding them, and the cache entry it lies in (None: not cached)."""

    resolved: Resolved
    directory: Path
    entry: Path | None = None
