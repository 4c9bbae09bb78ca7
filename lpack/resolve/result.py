"""What every resolver returns, whatever the language."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True, slots=True, kw_only=True)
class PackageBytes:
    name: str  # an npm package, or "(project)" for the function's own code
    bytes: int
    version: str | None = None  # the installed package's (the top-level one when npm nested several)


@dataclass(frozen=True, slots=True, kw_only=True)
class BundleReport:
    """A Node.js bundle: what esbuild put into it (its metafile) and what stayed external in node_modules."""

    entry: str  # the handler's source, relative to the project
    output: str  # the bundle's path in the artifact
    format: str  # "cjs" or "esm"
    target: str  # esbuild's target, e.g. "node20"
    esbuild: str  # its version
    bytes: int  # the bundle's size
    sourcemap: str  # "off", "inline" or "file"
    bundled: tuple[PackageBytes, ...]  # bytes each package contributes to the bundle
    external: tuple[PackageBytes, ...]  # installed into node_modules (with what they need): unzipped bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class Resolved:
    """What was installed into the staging directory, and how."""

    lock: Path | None  # the hash-pinned requirements that were installed
    direct: frozenset[str]  # canonical names the user asked for by name
    installer: str  # "uv", "pip", "npm" or "none"
    built_wheel: bool = False  # the project's own wheel was installed: it carries the code
    notes: tuple[str, ...] = field(default=())  # what was done, for -v and the report
    warnings: tuple[str, ...] = field(default=())  # what the user should act on, shown with the build's warnings
    bundle: BundleReport | None = None  # a Node.js function bundled with esbuild


NOTHING = Resolved(lock=None, direct=frozenset(), installer="none")


@dataclass(frozen=True, slots=True, kw_only=True)
class Deps:
    """Resolved dependencies: how, and where their files lie: a directory of this build's, or cache entries (one
    for a whole lock installed together, or one per distribution)."""

    resolved: Resolved
    directory: Path  # when `entries` is empty
    entries: tuple[Path, ...] = ()
    made: frozenset[Path] = frozenset()  # those of `entries` this build installed (not found in the cache)
