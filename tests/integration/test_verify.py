"""`lpack verify` and `lpack build --verify` against real interpreters and artifacts from real builds."""

from __future__ import annotations

import json
import platform
import zipfile
from pathlib import Path

import jsonschema
import pytest

from lpack.bytecode import find_interpreter
from lpack.cli.report import SCHEMA_PATH
from lpack.errors import EXIT_NO_INTERPRETER
from lpack.tools.verify_node import find_node
from tests.conftest import WHEELS, MakeProject
from tests.integration._helpers import build_json, lpack
from tests.integration._oci import make_base

SCHEMA = json.loads(SCHEMA_PATH.read_text())
PY312 = find_interpreter((3, 12))
needs_py312 = pytest.mark.skipif(PY312 is None, reason="no python3.12 on this machine to verify with")
# Runtimes whose interpreter this machine lacks: `verify` must say so with its own exit code.
ABSENT = next((f"python3.{m}" for m in (14, 13, 9, 10) if find_interpreter((3, m)) is None), None)


def one_line(text: str) -> str:
    return " ".join(text.split())  # rich wraps long lines on stderr


def make_zip(path: Path, files: dict[str, str]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return path


@needs_py312
def test_verify_event_prints_the_handler_result_and_reports_init_time(project: MakeProject, tmp_path: Path) -> None:
    zip_path = Path(build_json(project("hello"))["artifacts"][0]["path"])
    event = tmp_path / "event.json"
    event.write_text('{"ping": 7}')
    result = lpack("verify", zip_path, "--handler", "app.handler", "--event", event)
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == {"greeting": "a+b", "arch": "aarch64", "event": {"ping": 7}}
    assert "app.handler imports from" in one_line(result.stderr) and "with python3.12: init " in result.stderr
    data = json.loads(lpack("verify", zip_path, "--handler", "app.handler", "--json").stdout)
    jsonschema.validate(data, SCHEMA)
    assert data["runtime"] == "python3.12"  # from the zip's cpython-312 bytecode
    assert data["init_ms"] > 0 and data["invoked"] is False and data["result"] is None


@needs_py312
def test_handler_importing_a_pruned_module_fails_naming_it(project: MakeProject, tmp_path: Path) -> None:
    root = project("hello")
    config = root / "pyproject.toml"
    # lp_pure_a imports lp_pure_b; a user prune rule deletes it, and only an import can tell.
    config.write_text(config.read_text() + '\n[tool.lpack.prune]\nremove = ["lp_pure_b/"]\n')
    report = tmp_path / "report.json"
    result = lpack("build", root, "--verify", "--report", report)
    assert result.exit_code == 1
    err = one_line(result.stderr)
    assert "app.handler: unable to import module 'app': ModuleNotFoundError: No module named 'lp_pure_b'" in err
    assert "lp_pure_b is not in the artifact" in err
    zip_path = root / "dist" / "hello.zip"
    assert zip_path.is_file()  # built, then found broken: the artifact is there to inspect
    again = lpack("verify", zip_path, "--report", report)  # handler and runtime from the report
    assert again.exit_code == 1 and "No module named 'lp_pure_b'" in one_line(again.stderr)


@needs_py312
def test_build_verify_reports_init_time_in_the_json(project: MakeProject) -> None:
    report = build_json(project("hello"), "--verify")
    jsonschema.validate(report, SCHEMA)
    [checked] = report["verify"]
    assert (checked["handler"], checked["runtime"]) == ("app.handler", "python3.12")
    assert checked["init_ms"] > 0


@needs_py312
def test_lambda_environment_layers_and_no_site_packages_of_this_machine(tmp_path: Path) -> None:
    app = """
import os, sys
import shared


def handler(event, context):
    try:
        import click  # installed next to lpack, never in the artifact
        leaked = True
    except ImportError:
        leaked = False
    return {
        "shared": shared.VALUE,
        "name": os.environ["AWS_LAMBDA_FUNCTION_NAME"],
        "task_is_cwd": os.environ["LAMBDA_TASK_ROOT"] == os.getcwd() == sys.path[0],
        "context": [context.function_name, context.get_remaining_time_in_millis() > 0],
        "handler_env": os.environ["_HANDLER"],
        "leaked": leaked,
    }
"""
    function = make_zip(tmp_path / "fn.zip", {"app.py": app})
    layer = make_zip(tmp_path / "layer.zip", {"python/shared.py": "VALUE = 'from the layer'\n"})
    event = tmp_path / "event.json"
    event.write_text("{}")
    args = ("verify", function, "--handler", "app.handler", "--runtime", "python3.12", "--event", event)
    result = lpack(*args, "--layer", layer)
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == {
        "shared": "from the layer",
        "name": "fn",
        "task_is_cwd": True,
        "context": ["fn", True],
        "handler_env": "app.handler",
        "leaked": False,
    }
    without_layer = lpack(*args)
    assert without_layer.exit_code == 1 and "No module named 'shared'" in one_line(without_layer.stderr)


@needs_py312
def test_unserializable_result_fails_like_lambda(tmp_path: Path) -> None:
    function = make_zip(tmp_path / "fn.zip", {"app.py": "def handler(event, context):\n    return {1, 2}\n"})
    event = tmp_path / "event.json"
    event.write_text("{}")
    result = lpack("verify", function, "--handler", "app.handler", "--runtime", "python3.12", "--event", event)
    assert result.exit_code == 1
    assert "raised when invoked: TypeError: Object of type set is not JSON serializable" in one_line(result.stderr)


@pytest.mark.skipif(ABSENT is None, reason="every Python version is installed here")
def test_no_interpreter_of_the_target_version_exits_4(tmp_path: Path) -> None:
    assert ABSENT is not None
    function = make_zip(tmp_path / "fn.zip", {"app.py": "def handler(event, context):\n    return 1\n"})
    result = lpack("verify", function, "--handler", "app.handler", "--runtime", ABSENT)
    assert result.exit_code == EXIT_NO_INTERPRETER == 4
    assert f"no {ABSENT} on this machine" in result.stderr


def test_unknown_runtime_without_bytecode_asks_for_one(tmp_path: Path) -> None:
    function = make_zip(tmp_path / "fn.zip", {"app.py": "def handler(event, context):\n    return 1\n"})
    result = lpack("verify", function, "--handler", "app.handler")
    assert result.exit_code == 2
    assert "cannot tell which runtime" in one_line(result.stderr)


def _node_runtime() -> str | None:
    for major in (24, 22, 20, 18):
        if find_node(major) is not None:
            return f"nodejs{major}.x"
    return None


NODE_RUNTIME = _node_runtime()
needs_node = pytest.mark.skipif(NODE_RUNTIME is None, reason="no node of a Lambda runtime's version here")

_CJS = """
const shared = require("shared");  // from the layer, through NODE_PATH
exports.handler = function (event, context, callback) {
  callback(null, { shared: shared.value, root: process.env.LAMBDA_TASK_ROOT === process.cwd(), event });
};
"""
_ESM = """
export const handler = async (event, context) => ({
  name: context.functionName,
  left: context.getRemainingTimeInMillis() > 0,
});
"""


@needs_node
def test_node_handlers_cjs_with_a_layer_and_esm(tmp_path: Path) -> None:
    assert NODE_RUNTIME is not None
    function = make_zip(tmp_path / "fn.zip", {"cb.js": _CJS, "index.mjs": _ESM, "broken.js": 'require("left-pad");\n'})
    layer = make_zip(tmp_path / "layer.zip", {"nodejs/node_modules/shared/index.js": 'exports.value = "layer";\n'})
    event = tmp_path / "event.json"
    event.write_text('{"n": 1}')
    common = ("verify", function, "--runtime", NODE_RUNTIME, "--layer", layer, "--event", event)
    cjs = lpack(*common, "--handler", "cb.handler")
    assert cjs.exit_code == 0, cjs.stderr
    assert json.loads(cjs.stdout) == {"shared": "layer", "root": True, "event": {"n": 1}}
    esm = lpack(*common, "--handler", "index.handler", "--json")
    assert esm.exit_code == 0, esm.stderr
    data = json.loads(esm.stdout)
    assert data["result"] == {"name": "fn", "left": True} and data["init_ms"] > 0
    broken = lpack(*common, "--handler", "broken.handler")
    assert broken.exit_code == 1
    assert "MODULE_NOT_FOUND: Cannot find module 'left-pad'" in one_line(broken.stderr)


@pytest.mark.skipif(ABSENT is None, reason="every Python version is installed here")
def test_build_verify_without_the_interpreter_builds_then_exits_4(project: MakeProject) -> None:
    assert ABSENT is not None
    root = project("hello")
    result = lpack("build", root, "--runtime", ABSENT, "--verify", "--json")
    assert result.exit_code == 4
    assert (root / "dist" / "hello.zip").is_file()
    report = json.loads(result.stdout)
    jsonschema.validate(report, SCHEMA)
    assert report["verify"] == [] and report["verify_error"]["exit_code"] == 4
    assert f"no {ABSENT} on this machine" in one_line(result.stderr)


@needs_py312
def test_extension_of_the_other_architecture_gets_a_hint(tmp_path: Path) -> None:
    foreign = "aarch64" if platform.machine() != "aarch64" else "x86_64"
    wheel = next(WHEELS.glob(f"lp_native-1.0-*_{foreign}.whl"))
    with zipfile.ZipFile(wheel) as archive:
        so = archive.read("lp_native/_native.abi3.so")
    function = tmp_path / "fn.zip"
    with zipfile.ZipFile(function, "w") as archive:
        archive.writestr("app.py", "import fast\n\n\ndef handler(event, context):\n    return 1\n")
        archive.writestr("fast.abi3.so", so)
    result = lpack("verify", function, "--handler", "app.handler", "--runtime", "python3.12", "--json")
    # Not "module not found" for a file that is in the zip: a partial check that says why (issue 14).
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    jsonschema.validate({"schema_version": 1, "command": "verify", **data}, SCHEMA)
    assert data["status"] == "partial"
    assert data["invoked"] is False
    text = " ".join(data["warnings"])
    lambda_arch = "arm64" if foreign == "aarch64" else "x86_64"
    assert f"native code for {lambda_arch} (e.g. fast.abi3.so) cannot load on this {platform.machine()} machine" in text
    assert "verified the pure-Python part only (partial)" in text
    assert "import stopped at fast" in text or "import stopped at native code" in text


@needs_py312
def test_a_pure_python_handler_beside_foreign_native_code_verifies_with_a_note(tmp_path: Path) -> None:
    foreign = "aarch64" if platform.machine() != "aarch64" else "x86_64"
    wheel = next(WHEELS.glob(f"lp_native-1.0-*_{foreign}.whl"))
    with zipfile.ZipFile(wheel) as archive:
        so = archive.read("lp_native/_native.abi3.so")
    function = tmp_path / "fn.zip"
    with zipfile.ZipFile(function, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return 1\n")  # imports no native code at init
        archive.writestr("lazy/_native.abi3.so", so)
    result = lpack("verify", function, "--handler", "app.handler", "--runtime", "python3.12", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["status"] == "verified"
    assert any("lazy/_native.abi3.so" in w for w in data["warnings"])


@needs_py312
def test_build_verify_imports_an_image_handler_from_its_own_layers(
    project: MakeProject, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "500")  # each message on its line, however long the path
    root = project("hello")
    base = make_base(tmp_path / "base")
    config = root / "pyproject.toml"
    image = f'handler = "app.handler"\nformat = "image"\nbase = "oci:{base}:base"'
    config.write_text(config.read_text().replace('handler = "app.handler"', image))
    report = build_json(root, "--verify")
    jsonschema.validate(report, SCHEMA)
    [checked] = report["verify"]
    assert (checked["handler"], checked["runtime"]) == ("app.handler", "python3.12") and checked["init_ms"] > 0
    layout = root / "dist" / "hello.oci"
    assert checked["artifact"] == str(layout)
    # The handler's dependency comes from the deps layer: without it the import fails, naming the module.
    (root / "requirements.txt").write_text("")
    broken = lpack("build", root, "--verify")
    assert broken.exit_code == 1 and "No module named" in one_line(broken.stderr)
    # `lpack verify` given the image's OCI layout: one clear line and a usage exit, no traceback.
    again = lpack("verify", layout, "--handler", "app.handler")
    assert again.exit_code == 2
    assert again.stderr.splitlines() == [
        f"error: {layout}: a directory (an OCI image layout?), not a zip: verify is not supported for images",
        "hint: `lpack build --verify` verifies an image function from its own layers",
    ]
