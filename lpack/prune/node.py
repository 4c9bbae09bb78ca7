"""Node.js trees: the safe pruning profile and the runtime-provided AWS SDK."""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from lpack.config.model import PruneConfig
from lpack.prune.base import ImportsOf, Removals, stale_bytecode
from lpack.staging.tree import Entry, StagingTree

_PACKAGE_JSON = re.compile(r"^(?P<dir>(?:.*/)?node_modules/(?:@[^/]+/)?[^/@][^/]*)/package\.json$")
_JUNK_DIRS = frozenset(
    {
        "test",
        "tests",
        "__tests__",
        "example",
        "examples",
        "docs",
        "doc",
        ".github",
        "coverage",
        "benchmark",
        "benchmarks",
        ".vscode",
        ".idea",
        ".circleci",
    }
)
_JUNK_FILES = re.compile(
    r"(\.(md|markdown|map|ts|mts|cts|tsbuildinfo)$)|^(\.eslintrc.*|\.prettierrc.*|\.editorconfig|\.travis\.yml|"
    r"\.npmignore|\.gitattributes|\.gitignore|\.nycrc.*|\.babelrc.*|tsconfig.*\.json|jest\.config\..*|"
    r"\.jshintrc|\.airtap\.yml|appveyor\.yml|\.taprc|Makefile|Gruntfile\.js|Gulpfile\.js|karma\.conf\.js)$",
    re.IGNORECASE,
)
_LEGAL = re.compile(r"^(LICEN[CS]E|COPYING|NOTICE|AUTHORS)", re.IGNORECASE)
# nodejs18.x and newer include the AWS SDK for JavaScript v3 (lambda-nodejs.html).
PROVIDED_SCOPES = ("@aws-sdk/", "@smithy/")


def profile(
    tree: StagingTree, config: PruneConfig, *, provided: set[str], direct: Iterable[str], imports_of: ImportsOf
) -> Removals:
    """The AWS SDK v3 the runtime carries (when `provided` is non-empty), then the safe junk, then stale bytecode."""
    removals: Removals = []
    if provided:
        removals.append(("runtime-provided packages", provided_files(tree, direct)))
    if config.profile == "safe":
        removals.append(("docs, tests, maps and configs in node_modules", junk(tree)))
    return [*removals, stale_bytecode(tree)]


@dataclass(frozen=True, slots=True, kw_only=True)
class NodePackage:
    directory: str  # "node_modules/@aws-sdk/client-s3" (possibly nested)
    name: str
    requires: frozenset[str]
    entry_points: frozenset[str]  # files main/exports/bin/module point at: never pruned


def packages(tree: StagingTree) -> dict[str, NodePackage]:
    by_path = {e.path: e for e in tree}
    found = {}
    for path, entry in by_path.items():
        match = _PACKAGE_JSON.match(path)
        if match is None:
            continue
        data = _load(entry)
        directory = match.group("dir")
        kinds = ("dependencies", "optionalDependencies", "peerDependencies")
        deps = {k for key in kinds for k in _keys(data.get(key))}
        found[directory] = NodePackage(
            directory=directory,
            name=str(data.get("name") or directory.split("node_modules/")[-1]),
            requires=frozenset(deps),
            entry_points=_entry_points(directory, data, by_path),
        )
    return found


def _load(entry: Entry) -> dict[str, object]:
    try:
        data = json.loads(entry.source.read_bytes())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _entry_points(directory: str, data: dict[str, object], present: dict[str, Entry]) -> frozenset[str]:
    targets = [v for key in ("main", "module", "exports", "bin", "types") for v in _strings(data.get(key))]
    found = set()
    for target in targets or ["index.js"]:
        path = posixpath.normpath(posixpath.join(directory, target))
        for candidate in (path, path + ".js", path + ".json", path + "/index.js", path + ".cjs", path + ".mjs"):
            if candidate in present:
                found.add(candidate)
    return frozenset(found)


def _strings(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def junk(tree: StagingTree) -> set[str]:
    """The safe profile for node_modules: docs, tests, maps, TypeScript sources, tool configs; never a
    licence and never a file a package.json points at."""
    protected = {p for pkg in packages(tree).values() for p in pkg.entry_points}
    doomed = set()
    for entry in tree:
        if not entry.path.startswith("node_modules/") or entry.path in protected:
            continue
        parts = entry.path.split("/")
        name = parts[-1]
        inside = _inside_package(parts)
        if _LEGAL.match(name):
            continue
        if any(p in _JUNK_DIRS for p in inside[:-1]) or _JUNK_FILES.search(name):
            doomed.add(entry.path)
    return doomed


def _inside_package(parts: list[str]) -> list[str]:
    """The path parts below the innermost package directory."""
    last = max(i for i, p in enumerate(parts) if p == "node_modules")
    skip = 3 if parts[last + 1].startswith("@") else 2
    return parts[last + skip :]


def provided_files(tree: StagingTree, direct: Iterable[str]) -> set[str]:
    """Files of @aws-sdk/* and @smithy/* and of packages only they need (the runtime has SDK v3)."""
    found = packages(tree)
    is_sdk = {d for d, p in found.items() if p.name.startswith(PROVIDED_SCOPES)}
    if not is_sdk:
        return set()
    by_name: dict[str, list[str]] = {}
    for d, p in found.items():
        by_name.setdefault(p.name, []).append(d)
    keep: set[str] = set()
    todo = [d for name in direct if not name.startswith(PROVIDED_SCOPES) for d in by_name.get(name, [])]
    while todo:
        directory = todo.pop()
        if directory in keep or directory in is_sdk:
            continue
        keep.add(directory)
        todo += [
            d
            for name in found[directory].requires
            if not name.startswith(PROVIDED_SCOPES)
            for d in by_name.get(name, [])
        ]
    doomed = [d for d in found if d not in keep and not any(d.startswith(k + "/node_modules/") for k in keep)]
    return {e.path for e in tree if any(e.path.startswith(d + "/") for d in doomed)}


def _keys(value: object) -> list[str]:
    return list(value) if isinstance(value, dict) else []
