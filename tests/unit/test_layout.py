"""The house rules for lpack/'s layout, checked with ast over every module (DESIGN.md "Layout", STYLE.md 6 and 8).

- no `_x.py` module at lpack/'s top level: a helper lives in the stage folder it serves;
- no module over 400 lines;
- no import cycle between modules;
- the layering: each module has the level of its top package (LEVELS) and imports only from its own package or
  a lower level. lpack/__init__.py and lpack/__main__.py (the top) are exempt as importers.

Every import counts: function-level ones and those under `if TYPE_CHECKING:` too, since they are still a
dependency of the code and the next refactor turns them into module-level ones.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

LPACK = Path(__file__).resolve().parents[2] / "lpack"
MAX_LINES = 400

# The pipeline's order, low to high: a module may import from its own top package or a lower level.
LEVELS: Mapping[str, int] = {
    **dict.fromkeys(("errors", "redact", "runtimes", "units", "version"), 0),
    **dict.fromkeys(("staging", "cache", "lifecycle"), 1),
    "archive": 2,  # writes staging trees
    "config": 3,
    "resolve": 4,
    "sources": 5,
    "prune": 6,
    "audit": 7,
    "bytecode": 8,
    "size": 9,
    "layers": 10,
    "oci": 11,
    "emit": 12,
    "publish": 13,
    "remote": 13,  # the shared cache: S3 through oci.aws's boto3, entries packed by archive
    "pipeline": 14,
    "tools": 15,
    "cli": 16,
}
TOP = 17  # lpack/__init__.py (the public API) and lpack/__main__.py
EXEMPT = frozenset({"lpack", "lpack.__main__"})
# errors.py is at the bottom so every level can raise; its errors carry the raising stage's findings and size report
# as typed payloads. Those types are imported under `if TYPE_CHECKING:` only: annotations, never executed.
TYPED_PAYLOADS = frozenset({"lpack.errors"})


@dataclass(frozen=True, slots=True, kw_only=True)
class Module:
    name: str  # dotted: "lpack.resolve.python"; a package's __init__ is the package's name
    path: Path
    is_package: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class Import:
    source: str
    target: str
    line: int
    lazy: bool  # inside a function: no cycle at import time, but a dependency all the same

    def where(self) -> str:
        return f"line {self.line}" + (", in a function" if self.lazy else "")


def modules(root: Path) -> dict[str, Module]:
    """Every module under `root` (the lpack/ directory), by dotted name; symlinked folders (_templates) are data."""
    found: dict[str, Module] = {}
    for base, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__" and (Path(base) / d / "__init__.py").is_file())
        for name in sorted(f for f in files if f.endswith(".py")):
            path = Path(base) / name
            parts = [root.name, *path.relative_to(root).with_suffix("").parts]
            package = parts[-1] == "__init__"
            dotted = ".".join(parts[:-1] if package else parts)
            found[dotted] = Module(name=dotted, path=path, is_package=package)
    return found


def imports(module: Module, known: Mapping[str, Module]) -> Iterator[Import]:
    """The lpack modules `module` imports, anywhere in its body, each with its line."""
    tree = ast.parse(module.path.read_text(encoding="utf-8"), filename=str(module.path))
    functions = (n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)))
    in_function = {id(inner) for fn in functions for inner in ast.walk(fn)}
    type_only = _type_checking_nodes(tree) if module.name in TYPED_PAYLOADS else set()
    for node in ast.walk(tree):
        if id(node) in type_only:
            continue
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(module, node)
            # `from lpack.oci import layout` imports the submodule; `from lpack.oci import push`, a name.
            names = [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for target in sorted({t for name in names if (t := _known_prefix(name, known)) is not None}):
            yield Import(source=module.name, target=target, line=node.lineno, lazy=id(node) in in_function)


def _type_checking_nodes(tree: ast.Module) -> set[int]:
    blocks = (n for n in tree.body if isinstance(n, ast.If) and ast.unparse(n.test).endswith("TYPE_CHECKING"))
    return {id(inner) for block in blocks for stmt in block.body for inner in ast.walk(stmt)}


def _absolute(module: Module, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = module.name if module.is_package else module.name.rpartition(".")[0]
    parts = package.split(".")
    base = ".".join(parts[: len(parts) - node.level + 1])
    return f"{base}.{node.module}" if node.module else base


def _known_prefix(dotted: str, known: Mapping[str, Module]) -> str | None:
    """The longest known module `dotted` starts with: a name imported from a module is that module."""
    parts = dotted.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in known:
            return candidate
    return None


def top_package(dotted: str) -> str | None:
    """ "lpack.resolve.python" -> "resolve"; the root package and __main__ have none."""
    parts = dotted.split(".")
    return None if dotted in EXEMPT or len(parts) < 2 else parts[1]


def level(dotted: str) -> int | None:
    top = top_package(dotted)
    return TOP if top is None else LEVELS.get(top)


def graph(root: Path) -> dict[str, list[Import]]:
    known = modules(root)
    return {name: list(imports(module, known)) for name, module in known.items()}


def layering_violations(edges: Mapping[str, list[Import]]) -> list[str]:
    found = []
    for source, out in edges.items():
        if source in EXEMPT:
            continue
        for imp in out:
            same = top_package(imp.source) == top_package(imp.target)
            low, high = level(imp.target), level(imp.source)
            if not same and low is not None and high is not None and low >= high:
                target = "lpack/__init__.py" if imp.target == "lpack" else imp.target
                found.append(f"{imp.source} (level {high}) imports {target} (level {low}), {imp.where()}")
    return sorted(found)


def cycles(edges: Mapping[str, list[Import]]) -> list[list[str]]:
    """Strongly connected components with more than one module (or a module importing itself), Tarjan's way."""
    succ = {name: sorted({i.target for i in out}) for name, out in edges.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in succ.get(node, []):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = stack[stack.index(node) :]
            del stack[stack.index(node) :]
            on_stack.difference_update(component)
            if len(component) > 1 or node in succ.get(node, []):
                found.append(sorted(component))

    for name in sorted(succ):
        if name not in index:
            visit(name)
    return sorted(found)


# --- the rules, over lpack/ -----------------------------------------------------------------------------------


def test_no_private_module_at_the_top_level() -> None:
    private = sorted(p.name for p in LPACK.glob("_*.py") if p.name not in ("__init__.py", "__main__.py"))
    assert private == [], f"move each into the stage folder it serves: {private}"


def test_no_module_over_400_lines() -> None:
    long = {
        m.path.relative_to(LPACK.parent).as_posix(): n
        for m in modules(LPACK).values()
        if (n := len(m.path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}, f"split these (lines): {long}"


def test_every_module_has_a_level() -> None:
    unknown = sorted({top for name in modules(LPACK) if (top := top_package(name)) and top not in LEVELS})
    assert unknown == [], f"add these top packages to LEVELS here and to the table in DESIGN.md: {unknown}"


def test_imports_follow_the_layering() -> None:
    found = layering_violations(graph(LPACK))
    assert found == [], "imports from the same or a higher level:\n" + "\n".join(found)


def test_no_import_cycles() -> None:
    edges = graph(LPACK)
    found = cycles(edges)
    lines = [
        f"{imp.source} -> {imp.target}, {imp.where()}"
        for component in found
        for name in component
        for imp in edges[name]
        if imp.target in component
    ]
    assert found == [], "import cycles:\n" + "\n".join(lines)


# --- the checker itself, on a made-up package -----------------------------------------------------------------


def _package(root: Path, files: Mapping[str, str]) -> Path:
    pkg = root / "lpack"
    for rel, text in files.items():
        path = pkg / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return pkg


def test_checker_sees_imports_in_functions_type_checking_and_relative_forms(tmp_path: Path) -> None:
    pkg = _package(
        tmp_path,
        {
            "__init__.py": "",
            "units.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from lpack.cli import app\n",
            "errors.py": "",
            "cli/__init__.py": "",
            "cli/app.py": "def f():\n    from ..resolve import python\n",
            "resolve/__init__.py": "",
            "resolve/python.py": "from . import keys\nimport lpack.errors\n",
            "resolve/keys.py": "",
        },
    )
    edges = graph(pkg)
    assert {(i.target, i.line) for i in edges["lpack.units"]} == {("lpack.cli.app", 3)}
    assert [i.target for i in edges["lpack.cli.app"]] == ["lpack.resolve.python"]
    assert sorted(i.target for i in edges["lpack.resolve.python"]) == ["lpack.errors", "lpack.resolve.keys"]
    assert [i.lazy for i in edges["lpack.cli.app"]] == [True]
    assert layering_violations(edges) == ["lpack.units (level 0) imports lpack.cli.app (level 16), line 3"]


def test_checker_allows_the_own_package_and_lower_levels_and_exempts_the_top(tmp_path: Path) -> None:
    pkg = _package(
        tmp_path,
        {
            "__init__.py": "from lpack.cli.app import main\n",
            "__main__.py": "from lpack.cli.app import main\n",
            "cli/__init__.py": "from lpack.cli import app\n",
            "cli/app.py": "from lpack.resolve.python import x\nfrom lpack import errors\n",
            "resolve/__init__.py": "",
            "resolve/python.py": "from lpack.config import load\n",
            "config/__init__.py": "",
            "config/load.py": "",
            "errors.py": "",
        },
    )
    assert layering_violations(graph(pkg)) == []


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"a.py": "import lpack.b\n", "b.py": "from lpack import a\n"}, [["lpack.a", "lpack.b"]]),
        (
            {"a.py": "import lpack.b\n", "b.py": "import lpack.c\n", "c.py": "import lpack.a\n"},
            [["lpack.a", "lpack.b", "lpack.c"]],
        ),
        ({"a.py": "import lpack.a\n"}, [["lpack.a"]]),
        ({"a.py": "import lpack.b\n", "b.py": "import lpack.c\n", "c.py": ""}, []),
    ],
)
def test_checker_finds_cycles(tmp_path: Path, files: dict[str, str], expected: list[list[str]]) -> None:
    assert cycles(graph(_package(tmp_path, {"__init__.py": "", **files}))) == expected


def test_checker_skips_folders_that_are_not_packages(tmp_path: Path) -> None:
    pkg = _package(tmp_path, {"__init__.py": "", "errors.py": "", "schemas/x.py": "", "_templates/t/app.py": ""})
    assert sorted(modules(pkg)) == ["lpack", "lpack.errors"]
