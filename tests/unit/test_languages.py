"""What differs by language sits behind one interface: which Language a function gets, and its handler checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from lpack.audit.handler import check_node_handler, check_python_handler, exports, handler_file
from lpack.config.load import load_config
from lpack.errors import ConfigError
from lpack.pipeline.languages import language_for
from lpack.prune import node as prune_node
from lpack.prune import python as prune_python
from lpack.prune.base import as_built
from lpack.resolve.node import direct_dependencies
from lpack.staging.tree import scan
from tests.conftest import MakeProject


@pytest.mark.parametrize(
    ("scenario", "name", "profile", "bytecode"),
    [
        ("hello", "python", prune_python.profile, True),
        ("node-fn", "node", prune_node.profile, False),
        ("prebuilt-go", "prebuilt", as_built, False),
    ],
)
def test_each_function_gets_its_language(
    project: MakeProject, scenario: str, name: str, profile: object, bytecode: bool
) -> None:
    [fn] = load_config(project(scenario)).functions
    language = language_for(fn)
    assert (language.name, language.prune_profile, language.bytecode) == (name, profile, bytecode)


def test_python_handler_missing_module_fails_and_missing_function_warns(project: MakeProject, tmp_path: Path) -> None:
    [fn] = load_config(project("hello")).functions
    module = fn.handler.rpartition(".")[0]
    tree = scan(_write(tmp_path / "a", {f"{module}.py": "def other(): pass\n"}), "code")
    assert check_python_handler(fn, tree) == [f'handler "{fn.handler}": {module}.py has no top-level "handler"']
    with pytest.raises(ConfigError, match="is in the artifact"):
        check_python_handler(fn, scan(_write(tmp_path / "b", {"other.py": ""}), "code"))


def test_node_handler_file_and_exports(project: MakeProject, tmp_path: Path) -> None:
    [fn] = load_config(project("node-fn")).functions
    module = fn.handler.rsplit(".", 1)[0]
    tree = scan(_write(tmp_path, {f"{module}.mjs": "export const handler = async () => 1;\n"}), "code")
    assert handler_file(fn.handler, tree.paths()) == f"{module}.mjs"
    assert check_node_handler(fn, tree) == []
    assert exports("exports.handler = x", "handler")
    assert not exports("const handler = 1", "handler")


def test_direct_node_dependencies_are_what_package_json_names() -> None:
    manifest: dict[str, object] = {
        "dependencies": {"a": "1"},
        "optionalDependencies": {"b": "2"},
        "devDependencies": {"c": "3"},
    }
    assert direct_dependencies(manifest) == {"a", "b"}


def _write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root
