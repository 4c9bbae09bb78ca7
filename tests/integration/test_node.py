"""Node.js functions and layers with the real npm, offline from the packed fixtures in fixtures/npm."""

from __future__ import annotations

import json
import platform
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import MakeProject
from tests.integration._helpers import EM_AARCH64, build_json, elf_machines, lpack, names, unzip_read_only

pytestmark = pytest.mark.skipif(shutil.which("npm") is None or shutil.which("node") is None, reason="needs node+npm")


def test_node_function_for_arm64(project: MakeProject) -> None:
    root = project("node-fn")
    report = build_json(root)
    [artifact] = report["artifacts"]
    assert (artifact["runtime"], artifact["architecture"], artifact["installer"]) == ("nodejs20.x", "arm64", "npm")
    listed = set(names(root / "dist" / "node-fn.zip"))
    assert {
        "index.mjs",
        "package.json",
        "node_modules/lp-node-dep/index.js",
        "node_modules/lp-node-dep/lib/util.js",
        "node_modules/lp-node-dep/LICENSE",
        "node_modules/@lp/native-linux-arm64/native.node",
    } <= listed
    gone = {
        "node_modules/lp-dev-tool/index.js",  # a devDependency
        "node_modules/@lp/native-linux-x64/native.node",  # the other CPU's optional package
        "node_modules/@aws-sdk/client-fake/index.js",  # the runtime's SDK v3 ...
        "node_modules/@smithy/fake-core/index.js",
        "node_modules/lp-sdk-helper/index.js",  # ... and what only it needs
        "node_modules/lp-node-dep/README.md",
        "node_modules/lp-node-dep/CHANGELOG.md",
        "node_modules/lp-node-dep/lib/util.js.map",
        "node_modules/lp-node-dep/src/util.ts",
        "node_modules/lp-node-dep/index.d.ts",
        "node_modules/lp-node-dep/test/dep.test.js",
        "node_modules/lp-node-dep/.eslintrc.json",
        "node_modules/.package-lock.json",
        "package-lock.json",
        "test/index.test.js",
    }
    assert not gone & listed
    assert "node_modules/lp-shared/index.js" in listed  # the SDK needs it, but so does the function
    assert set(elf_machines(root / "dist" / "node-fn.zip").values()) == {EM_AARCH64}  # the addon is arm64
    assert not [w for w in report["warnings"] if "ELF" in w or "elf-" in w]  # the audit read it: no finding
    assert "node_modules/lp-node-weird/docs/index.js" in listed  # its package.json main points there


def test_node_function_for_x86_64_gets_the_x64_package(project: MakeProject) -> None:
    root = project("node-fn")
    build_json(root, "--arch", "x86_64")
    listed = names(root / "dist" / "node-fn.zip")
    assert "node_modules/@lp/native-linux-x64/index.js" in listed
    assert not [n for n in listed if "native-linux-arm64" in n]


def test_node_handler_runs_from_the_read_only_artifact(project: MakeProject, tmp_path: Path) -> None:
    root = project("node-fn")
    build_json(root)
    task = unzip_read_only(root / "dist" / "node-fn.zip", tmp_path / "task")
    script = (
        "import(process.argv[1] + '/index.mjs').then(m => m.handler({ping: 1}))"
        ".then(r => console.log(JSON.stringify(r)))"
    )
    proc = subprocess.run(["node", "-e", script, str(task)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {"shout": "HI!", "shared": "shared", "event": {"ping": 1}}


def test_builds_are_reproducible(project: MakeProject, tmp_path: Path) -> None:
    root = project("node-fn")
    build_json(root, "--out", tmp_path / "a")
    build_json(root, "--out", tmp_path / "b")
    assert (tmp_path / "a" / "node-fn.zip").read_bytes() == (tmp_path / "b" / "node-fn.zip").read_bytes()


def test_missing_lock_and_out_of_sync_lock_are_clear_errors(project: MakeProject) -> None:
    root = project("node-fn")
    manifest = json.loads((root / "package.json").read_text())
    manifest["dependencies"]["left-pad"] = "1.3.0"  # not in the lock
    (root / "package.json").write_text(json.dumps(manifest))
    result = lpack("build", root)
    assert result.exit_code == 1 and "out of sync" in result.stderr and "npm install" in result.stderr
    (root / "package-lock.json").unlink()
    # Without a lock a build locks package.json's ranges (test_node_lock.py); --locked refuses instead.
    result = lpack("build", root, "--locked")
    assert result.exit_code == 2 and "package-lock.json not found" in result.stderr
    assert not (root / "dist").exists()


def test_handler_file_and_export_are_checked(project: MakeProject) -> None:
    root = project("node-fn")
    config = root / "lpack.toml"
    config.write_text(config.read_text().replace('handler = "index.handler"', 'handler = "main.handler"'))
    result = lpack("build", root)
    assert result.exit_code == 2 and "none of main.js, main.mjs, main.cjs" in result.stderr
    config.write_text(config.read_text().replace('handler = "main.handler"', 'handler = "index.missing"'))
    report = build_json(root)
    assert any('does not visibly export "missing"' in w for w in report["warnings"])


def test_node_layers(project: MakeProject) -> None:
    root = project("node-layer")
    report = {a["name"]: a for a in build_json(root)["artifacts"]}
    assert report["utils"]["compatible_runtimes"] == ["nodejs20.x", "nodejs22.x"]
    plain = names(root / "dist" / "utils-layer.zip")
    assert "nodejs/node_modules/lp-node-dep/index.js" in plain and "nodejs/node_modules/lp-shared/index.js" in plain
    assert not [n for n in plain if not n.startswith("nodejs/")]
    versioned = names(root / "dist" / "utils-versioned-layer.zip")
    assert "nodejs/node22/node_modules/lp-node-dep/index.js" in versioned


def test_install_scripts_for_a_foreign_target_are_refused(project: MakeProject) -> None:
    root = project("node-fn")  # arm64 on this x86_64 machine (or the other way round on arm64)
    config = root / "lpack.toml"
    other = "x86_64" if platform.machine() in ("aarch64", "arm64") else "arm64"
    config.write_text(
        config.read_text().replace('architecture = "arm64"', f'architecture = "{other}"') + "node-scripts = true\n"
    )
    result = lpack("build", root)
    assert result.exit_code == 2 and "install scripts would run on this" in result.stderr


@pytest.mark.network
def test_esbuild_for_arm64_carries_only_the_linux_arm64_binary(tmp_path: Path) -> None:
    root = tmp_path / "esb"
    root.mkdir()
    (root / "package.json").write_text(
        json.dumps({"name": "esb", "version": "1.0.0", "private": True, "dependencies": {"esbuild": "0.24.0"}})
    )
    subprocess.run(
        ["npm", "install", "--package-lock-only", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=root,
        check=True,
        capture_output=True,
    )
    (root / "index.js").write_text("exports.handler = async () => require('esbuild').version;\n")
    (root / "lpack.toml").write_text('runtime = "nodejs22.x"\narchitecture = "arm64"\nhandler = "index.handler"\n')
    build_json(root)
    listed = names(root / "dist" / "esb.zip")
    assert "node_modules/@esbuild/linux-arm64/bin/esbuild" in listed
    assert not [n for n in listed if "@esbuild/linux-x64" in n]
