"""The handler Lambda will call must be in the artifact: a missing module fails, a missing function warns."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from lpack.config.model import FunctionConfig
from lpack.errors import ConfigError
from lpack.staging.tree import StagingTree


def check_python_handler(fn: FunctionConfig, tree: StagingTree) -> list[str]:
    """The handler's module must be in the artifact; a missing function is a warning (it may be dynamic)."""
    module, _, func = fn.handler.rpartition(".")
    base = module.replace(".", "/")
    candidates = [f"{base}.py", f"{base}/__init__.py"]
    paths = tree.paths()
    found = next((c for c in candidates if c in paths), None)
    if found is None:
        if any(p.startswith(base + ".") and p.endswith(".so") for p in paths):
            return []
        raise ConfigError(
            f'handler "{fn.handler}": neither {candidates[0]} nor {candidates[1]} is in the artifact',
            hint="fix `handler`, or `source`/`include` so the module is packed",
        )
    entry = next(e for e in tree if e.path == found)
    return [] if _defines(entry.source, func) else [f'handler "{fn.handler}": {found} has no top-level "{func}"']


def check_node_handler(fn: FunctionConfig, tree: StagingTree) -> list[str]:
    """The handler's file (.js, .mjs or .cjs) must be in the artifact and should visibly export the function."""
    module, _, func = fn.handler.rpartition(".")
    found = handler_file(fn.handler, tree.paths())
    if found is None:
        raise ConfigError(
            f'handler "{fn.handler}": none of {module}.js, {module}.mjs, {module}.cjs is in the artifact',
            hint="fix `handler`, or `source`/`include` so the file is packed",
        )
    text = next(e for e in tree if e.path == found).source.read_text(encoding="utf-8", errors="replace")
    return [] if exports(text, func) else [f'handler "{fn.handler}": {found} does not visibly export "{func}"']


def handler_file(handler: str, paths: frozenset[str]) -> str | None:
    """The file Lambda loads for "dir/index.handler": index.js, .mjs or .cjs."""
    module = handler.rsplit(".", 1)[0]
    return next((f"{module}{ext}" for ext in (".js", ".mjs", ".cjs") if f"{module}{ext}" in paths), None)


def exports(source: str, name: str) -> bool:
    """Whether a module visibly exports `name` (CommonJS or ESM); dynamic exports cannot be seen."""
    patterns = (
        rf"exports\.{name}\s*=",
        r"module\.exports\s*=",
        rf"export\s+(async\s+)?function\s*\*?\s*{name}\b",
        rf"export\s+(const|let|var)\s+{name}\b",
        rf"export\s*\{{[^}}]*\b{name}\b[^}}]*\}}",
    )
    return any(re.search(p, source) for p in patterns)


def _defines(path: Path, name: str) -> bool:
    try:
        module = ast.parse(path.read_bytes())
    except (SyntaxError, ValueError):
        return True  # cannot tell: the bytecode step names the syntax error (and fails the build on it)
    for node in module.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name == name:
            return True
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == name for t in targets):
                return True
        if isinstance(node, (ast.Import, ast.ImportFrom)) and any((a.asname or a.name) == name for a in node.names):
            return True
    return False
