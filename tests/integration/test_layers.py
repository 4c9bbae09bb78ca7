"""Layers from one config: paths Lambda puts on the import path, and a function's size with its layers."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from lpack.bytecode import find_interpreter
from lpack.config.load import load_config
from lpack.errors import ConfigError, SizeLimitError
from lpack.layers import Part, check_stack
from tests.conftest import MakeProject
from tests.integration._helpers import build_json, lpack, names, unzip_read_only

PY312 = find_interpreter((3, 12))


def _by_name(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {a["name"]: a for a in report["artifacts"]}


def test_layers_get_lambdas_paths_and_modes(project: MakeProject) -> None:
    root = project("with-layers")
    artifacts = _by_name(build_json(root))
    shared = names(root / "dist" / "shared-layer.zip")
    assert (
        "python/lp_pure_a/__init__.py" in shared and "python/lp_pure_a/__pycache__/__init__.cpython-312.pyc" in shared
    )
    assert "bin/tool" in shared and "bin/lp-a" in shared  # the layer's bin/ and console scripts: /opt/bin
    assert not [n for n in shared if not n.startswith(("python/", "bin/"))]
    pinned = names(root / "dist" / "pinned-layer.zip")
    assert "python/lib/python3.12/site-packages/lp_uses_urllib3/__init__.py" in pinned
    out = subprocess.run(
        ["unzip", "-Z", str(root / "dist" / "shared-layer.zip"), "bin/tool"], capture_output=True, text=True, check=True
    ).stdout
    assert out.startswith("-rwxr-xr-x")
    listing = subprocess.run(
        ["unzip", "-l", str(root / "dist" / "pinned-layer.zip")], capture_output=True, text=True, check=True
    ).stdout
    assert "python/lib/python3.12/site-packages/lp_uses_urllib3/__init__.py" in listing
    assert artifacts["shared"]["kind"] == "layer"
    assert artifacts["shared"]["compatible_runtimes"] == ["python3.12", "python3.13"]
    assert artifacts["shared"]["compatible_architectures"] == ["x86_64", "arm64"]
    assert artifacts["api"]["layers"] == ["shared", "pinned"]


def test_function_imports_from_its_layers_as_lambda_stacks_them(project: MakeProject, tmp_path: Path) -> None:
    if PY312 is None:
        pytest.skip("no python3.12 here")
    root = project("with-layers")
    build_json(root)
    task = unzip_read_only(root / "dist" / "api.zip", tmp_path / "task")
    opt = tmp_path / "opt"
    for layer in ("shared", "pinned"):  # Lambda extracts every layer into the same /opt
        subprocess.run(["unzip", "-qo", str(root / "dist" / f"{layer}-layer.zip"), "-d", str(opt)], check=True)
    code = "import json, sys; sys.path[:0] = sys.argv[1:]; import app; print(json.dumps(app.handler({}, None)))"
    paths = [str(task), str(opt / "python"), str(opt / "python/lib/python3.12/site-packages")]
    proc = subprocess.run([PY312, "-I", "-c", code, *paths], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {"greeting": "a+b", "arch": "x86_64", "uses": "lp_uses_urllib3"}


def test_duplicate_distribution_is_a_warning(project: MakeProject) -> None:
    report = build_json(project("with-layers"))
    assert any('lp-pure-b is in the function and in layer "shared"' in w for w in report["warnings"])


def test_select_a_layer_or_a_function_with_its_layers(project: MakeProject) -> None:
    root = project("with-layers")
    assert list(_by_name(build_json(root, "--layer", "pinned"))) == ["pinned"]
    assert list(_by_name(build_json(root, "--function", "api"))) == ["shared", "pinned", "api"]
    result = lpack("build", root, "--layer", "shard")
    assert result.exit_code == 2 and 'did you mean "shared"' in result.stderr


def test_unknown_layer_reference_and_too_many_layers(project: MakeProject) -> None:
    root = project("with-layers")
    config = root / "lpack.toml"
    text = config.read_text()
    config.write_text(text.replace('layers = ["shared", "pinned"]', 'layers = ["sharde"]'))
    with pytest.raises(ConfigError, match=r'uses layer "sharde".*did you mean "shared"'):
        load_config(root)
    config.write_text(text.replace('layers = ["shared", "pinned"]', 'layers = ["shared"] \nx = 1'))
    with pytest.raises(ConfigError, match="unknown key"):
        load_config(root)
    many = "".join(f'\n[layers.l{i}]\nrequirements = "layer-requirements.in"\n' for i in range(6))
    config.write_text(text.replace('layers = ["shared", "pinned"]', f"layers = {[f'l{i}' for i in range(6)]}") + many)
    with pytest.raises(ConfigError, match=r"uses 6 layers; Lambda allows 5"):
        load_config(root)


def test_function_keys_are_refused_in_a_layer(project: MakeProject) -> None:
    root = project("with-layers")
    config = root / "lpack.toml"
    config.write_text(
        config.read_text().replace('layout = "site-packages"', 'layout = "site-packages"\nhandler = "x.y"')
    )
    with pytest.raises(ConfigError, match=r"\[layers\.pinned\] handler: not a key for a layer"):
        load_config(root)


def test_empty_layer_is_refused(project: MakeProject) -> None:
    root = project("with-layers")
    (root / "pinned-requirements.in").write_text("")
    result = lpack("build", root)
    assert result.exit_code == 1 and "Lambda rejects an empty layer" in result.stderr


def test_function_plus_layers_over_262144000_bytes_exits_3_naming_the_biggest(project: MakeProject) -> None:
    root = project("with-layers")
    # Sparse files: cheap to write, deflate to almost nothing, but count in full once unzipped.
    with (root / "layer-bin" / "model.bin").open("wb") as fh:
        fh.truncate(140_000_000)
    with (root / "weights.bin").open("wb") as fh:
        fh.truncate(125_000_000)
    result = lpack("build", root)
    assert result.exit_code == 3
    assert "function + layers unzipped is" in result.stderr and "the biggest part is shared" in result.stderr
    assert not (root / "dist" / "api.zip").exists()


def test_stack_arithmetic_and_version_skew() -> None:
    fn = load_config(Path(__file__).resolve().parents[2] / "fixtures" / "projects" / "with-layers").functions[0]
    own = Part(name="api", unzipped_bytes=100, packages={"six": "1.16.0"})
    skewed = Part(name="shared", unzipped_bytes=262_144_000 - 100, packages={"six": "1.17.0"})
    with pytest.raises(ConfigError, match=r"six 1\.16\.0 is in the function and six 1\.17\.0"):
        check_stack(fn, own, [skewed], enforce=True)
    same = Part(name="shared", unzipped_bytes=262_144_000 - 100, packages={"six": "1.16.0"})
    warnings, findings = check_stack(fn, own, [same], enforce=True)  # exactly at the limit is allowed
    assert findings == [] and "packed twice" in warnings[0]
    bigger = Part(name="shared", unzipped_bytes=262_144_000 - 99, packages={})
    with pytest.raises(SizeLimitError):
        check_stack(fn, own, [bigger], enforce=True)


def test_extensions_directory_goes_to_extensions_executable(tmp_path: Path) -> None:
    (tmp_path / "ext" / "my-ext-files").mkdir(parents=True)
    (tmp_path / "ext" / "my-ext").write_text("#!/bin/sh\nexec /opt/extensions/my-ext-files/run\n")  # not 0755 here
    (tmp_path / "ext" / "my-ext-files" / "conf.txt").write_text("data")
    (tmp_path / "ext" / "notes.txt").write_text("not a program")
    (tmp_path / "lpack.toml").write_text('runtime = "provided.al2023"\n[layers.ext]\nextensions = "ext"\n')
    report = build_json(tmp_path)
    listing = subprocess.run(
        ["unzip", "-Z", str(tmp_path / "dist" / "ext-layer.zip")], capture_output=True, text=True, check=True
    ).stdout
    modes = {line.split()[-1]: line.split()[0] for line in listing.splitlines() if line.startswith(("-", "d"))}
    assert modes["extensions/my-ext"] == "-rwxr-xr-x"  # Lambda executes every file in /opt/extensions
    assert modes["extensions/my-ext-files/conf.txt"] == "-rw-r--r--"
    assert any("extensions/notes.txt: neither an ELF nor a #! script" in w for w in report["warnings"])


def test_extensions_is_a_layer_key(tmp_path: Path) -> None:
    (tmp_path / "lpack.toml").write_text('runtime = "nodejs20.x"\nhandler = "index.handler"\nextensions = "ext"\n')
    result = lpack("build", tmp_path)
    assert result.exit_code == 2
    assert "extensions: not a key for a function here" in result.output
