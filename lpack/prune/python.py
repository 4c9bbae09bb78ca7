"""The Python profile: what a Python function never runs, removed without breaking an import or importlib.metadata."""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import PurePosixPath

from lpack.config.model import PruneConfig
from lpack.prune.base import ImportsOf, Removals, is_bytecode, stale_bytecode
from lpack.staging import dists as _dists
from lpack.staging.tree import Entry, StagingTree

_TEST_DIRS = frozenset({"tests", "test"})
_DOC_DIRS = frozenset({"docs", "doc", "examples", "example"})
_C_SOURCES = (".c", ".h", ".cc", ".cpp", ".cxx", ".hpp", ".hh", ".pyx", ".pxd", ".pxi")
# RECORD lists files we then prune or compile, INSTALLER/REQUESTED name the tool, and direct_url.json
# holds a path on the build machine. METADATA, entry_points.txt and top_level.txt stay:
# importlib.metadata.version() and entry-point plugins read them at run time.
_INSTALL_RECORDS = frozenset({"RECORD", "INSTALLER", "REQUESTED", "direct_url.json"})


def _in_dist_info(entry: Entry) -> bool:
    parts = entry.path.split("/")
    return len(parts) == 2 and parts[0].endswith(".dist-info")


# The safe profile: (rule name, predicate over dependency entries). Order matters only for the report:
# a file counts under the first rule that removes it.
SAFE_RULES: tuple[tuple[str, Callable[[Entry], bool]], ...] = (
    ("bytecode caches", is_bytecode),
    ("install records", lambda e: _in_dist_info(e) and PurePosixPath(e.path).name in _INSTALL_RECORDS),
    ("type stubs", lambda e: e.path.endswith(".pyi")),
    ("C/Cython sources and headers", lambda e: e.path.endswith(_C_SOURCES)),
)


def _doc_files(deps: list[Entry]) -> set[str]:
    """Files under a docs/examples directory inside a package, unless that directory is itself an importable
    package: botocore imports `botocore.docs` (so boto3 fails without it), and others do the same."""
    packages = {e.path.rpartition("/")[0] for e in deps if e.path.endswith("/__init__.py")}
    found = set()
    for entry in deps:
        parts = entry.path.split("/")
        for i in range(1, len(parts) - 1):
            if parts[i] in _DOC_DIRS and "/".join(parts[: i + 1]) not in packages:
                found.add(entry.path)
                break
    return found


def profile(
    tree: StagingTree, config: PruneConfig, *, provided: set[str], direct: Iterable[str], imports_of: ImportsOf
) -> Removals:
    """Runtime-provided distributions (and what only they need), then the safe rules, then stale bytecode."""
    removals: Removals = []
    if provided:
        removals.append(("runtime-provided packages", _dists.removable_paths(tree, provided, set(direct))))
    if config.profile == "safe":
        deps = [e for e in tree if e.origin == "deps"]
        removals.extend((name, {e.path for e in deps if rule(e)}) for name, rule in SAFE_RULES)
        removals.append(("docs and examples", _doc_files(deps)))
        modules = [e for e in tree if e.path.endswith(".py")]  # the function's own code imports them too
        removals.append(("package test suites", _unimported_test_dirs(deps, modules, imports_of)))
    return [*removals, stale_bytecode(tree)]


def _unimported_test_dirs(
    deps: list[Entry], modules: list[Entry], imports_of: Callable[[Entry], frozenset[str]]
) -> set[str]:
    """Files in dependencies' `tests/` or `test/` package directories that no module outside them imports."""
    candidates = {_test_dir(e.path) for e in deps} - {None}
    if not candidates:
        return set()
    outside = [e for e in modules if _test_dir(e.path) is None]
    imported = _imported_dirs(outside, {c for c in candidates if c is not None}, imports_of)
    doomed = {c for c in candidates if c is not None} - imported
    return {e.path for e in deps if _test_dir(e.path) in doomed}


def _test_dir(path: str) -> str | None:
    parts = path.split("/")
    for i, part in enumerate(parts[1:-1], start=1):
        if part in _TEST_DIRS:
            return "/".join(parts[: i + 1])
    return None


_IMPORT_WORD = re.compile(rb"\btests?\b")
# An import naming a test package has the word on the line of its `import`/`from` (compound one-liners too), or
# after a backslash continuation, or inside a parenthesized `import (...)` list.
_IMPORT_LINE = re.compile(rb"\b(?:import|from)\b[^\n]*\btests?\b")
_CONTINUED = re.compile(rb"\\\r?\n")
_IMPORT_LIST = re.compile(rb"\bimport[ \t]*\(")


def _imported_dirs(
    modules: list[Entry], candidates: set[str], imports_of: Callable[[Entry], frozenset[str]]
) -> set[str]:
    """The candidate directories that some module imports, absolutely or relatively."""
    dotted = {c.replace("/", "."): c for c in candidates}
    found: set[str] = set()
    for entry in modules:
        for name in imports_of(entry):
            found |= {c for d, c in dotted.items() if name == d or name.startswith(d + ".")}
    return found


def file_imports(entry: Entry) -> frozenset[str]:
    """Absolute names of the modules a file imports that may name a test package; others are not needed."""
    data = entry.source.read_bytes()
    if not _may_import_tests(data):
        return frozenset()  # cheap filter: parsing is most of a cold build's pruning (big modules say "tests")
    return frozenset(_imports(data, entry.path))


def _may_import_tests(data: bytes) -> bool:
    """False only when no import statement in `data` can name a test package (a word in a docstring can't)."""
    if not _IMPORT_WORD.search(data):
        return False
    if _IMPORT_LINE.search(data) or _CONTINUED.search(data):
        return True
    for found in _IMPORT_LIST.finditer(data):
        for line in data[found.end() :].split(b"\n"):
            code = line.split(b"#", 1)[0]  # a list holds names and comments, never strings
            if _IMPORT_WORD.search(code):
                return True
            if b")" in code:
                break
    return False


def _imports(data: bytes, path: str) -> set[str]:
    try:
        module = ast.parse(data)
    except (SyntaxError, ValueError):
        return set()
    package = path.split("/")[:-1]  # for pkg/mod.py and pkg/__init__.py alike, "." is pkg
    names: set[str] = set()
    for node in _statements(module.body):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node, package)
            names.add(base)
            names |= {f"{base}.{alias.name}" for alias in node.names}
    return names


def _statements(body: list[ast.stmt]) -> Iterator[ast.AST]:
    """Every statement, nested ones too, without visiting expressions: an import is always a statement,
    and ast.walk over every node took seconds on pandas."""
    stack: list[ast.AST] = list(body)
    while stack:
        node = stack.pop()
        yield node
        for field in ("body", "orelse", "finalbody", "handlers", "cases"):
            value = getattr(node, field, None)
            if isinstance(value, list):
                stack.extend(value)


def _absolute(node: ast.ImportFrom, package: list[str]) -> str:
    if not node.level:
        return node.module or ""
    parent = package[: len(package) - (node.level - 1)] if node.level > 1 else package
    return ".".join([*parent, *([node.module] if node.module else [])])
