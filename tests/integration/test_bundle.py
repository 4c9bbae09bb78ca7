"""Node.js bundles with the real esbuild and npm, offline: npm from fixtures/npm, esbuild from a warm cache.

esbuild (a ~10 MB binary per platform) is not in the fixtures: tests/conftest.py's `with_esbuild` installs the
pinned version into pytest's cache directory from npm's own cache (`npm install --offline`); with neither warm,
these tests skip and `test_esbuild_installs_from_the_registry` (network) warms npm's cache.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from lpack.resolve.esbuild import ESBUILD_VERSION, find_esbuild
from tests.conftest import MakeProject
from tests.integration._helpers import EM_AARCH64, EM_X86_64, build_json, elf_machines, lpack, names

pytestmark = pytest.mark.skipif(shutil.which("npm") is None or shutil.which("node") is None, reason="needs node+npm")


@pytest.fixture(autouse=True)
def _esbuild(with_esbuild: Path) -> None:
    pass


def _run_handler(task: Path, module: str, name: str, event: dict[str, object]) -> object:
    # As Lambda's runtime does: import() the file under the task root, call the export, await it.
    script = (
        "const [f, n, e] = process.argv.slice(1);"
        "import(require('url').pathToFileURL(f).href)"
        ".then((m) => m[n](JSON.parse(e))).then((r) => console.log(JSON.stringify(r)))"
    )
    out = subprocess.run(
        ["node", "-e", script, str(task / module), name, json.dumps(event)],
        capture_output=True,
        text=True,
        check=True,
        cwd=task,
    )
    return json.loads(out.stdout)


def _unzip(zip_path: Path, dest: Path) -> Path:
    with zipfile.ZipFile(zip_path) as zf:
        zf.extractall(dest)
    return dest


def test_typescript_esm_with_a_native_dependency(project: MakeProject, tmp_path: Path) -> None:
    root = project("node-ts-esm")
    report = build_json(root, "--arch", "x86_64")
    [artifact] = report["artifacts"]
    zip_path = root / "dist" / "node-ts-esm.zip"
    listed = set(names(zip_path))
    # The bundle sits where Lambda looks for "src/index.handler"; lp-node-dep and the tsconfig path
    # alias are inlined; the native package and its x64 binary ship; no TypeScript, no dev dependency.
    assert {
        "src/index.mjs",
        "node_modules/lp-native-node/index.js",
        "node_modules/@lp/native-linux-x64/native.node",
    } <= listed
    assert not {n for n in listed if n.endswith(".ts") or "lp-node-dep" in n or "lp-dev-tool" in n or "arm64" in n}
    assert not {n for n in listed if n in ("package.json", "package-lock.json", "tsconfig.json")}
    assert set(elf_machines(zip_path).values()) == {EM_X86_64}
    bundle = artifact["bundle"]
    assert (bundle["entry"], bundle["output"], bundle["format"], bundle["target"]) == (
        "src/index.ts",
        "src/index.mjs",
        "esm",
        "node20",
    )
    assert {p["name"] for p in bundle["bundled"]} == {"(project)", "lp-node-dep"}
    assert {p["name"] for p in bundle["external"]} == {"lp-native-node", "@lp/native-linux-x64"}
    assert all(p["bytes"] > 0 for p in bundle["bundled"] + bundle["external"])
    assert artifact["installer"] == "npm+esbuild"
    task = _unzip(zip_path, tmp_path / "task")
    result = _run_handler(task, "src/index.mjs", "handler", {"name": "lambda"})
    assert result == {"message": "HELLO LAMBDA!", "arch": "x64"}


def test_verify_runs_the_bundled_esm_handler(project: MakeProject, tmp_path: Path) -> None:
    root = project("node-ts-esm")
    event = tmp_path / "event.json"
    event.write_text('{"name": "v"}')
    result = lpack("build", root, "--arch", "x86_64", "--report", tmp_path / "r.json")
    assert result.exit_code == 0, result.output
    verified = lpack("verify", root / "dist" / "node-ts-esm.zip", "--report", tmp_path / "r.json", "--event", event)
    assert verified.exit_code == 0, verified.output
    assert '"HELLO V!"' in verified.output


def test_arm64_ships_only_the_arm64_package(project: MakeProject) -> None:
    root = project("node-ts-esm")
    build_json(root, "--arch", "arm64")
    zip_path = root / "dist" / "node-ts-esm.zip"
    listed = set(names(zip_path))
    assert "node_modules/@lp/native-linux-arm64/native.node" in listed
    assert not {n for n in listed if "linux-x64" in n}
    assert set(elf_machines(zip_path).values()) == {EM_AARCH64}


def test_two_bundled_builds_are_byte_identical(project: MakeProject, tmp_path: Path) -> None:
    root = project("node-ts-esm")
    first = build_json(root, "--out", tmp_path / "one")["artifacts"][0]
    second = build_json(root, "--out", tmp_path / "two")["artifacts"][0]
    with zipfile.ZipFile(first["path"]) as a, zipfile.ZipFile(second["path"]) as b:
        for name in a.namelist():
            assert a.read(name) == b.read(name), name
    assert first["sha256"] == second["sha256"]


def test_commonjs_bundle_with_a_source_map_and_the_sdk_left_out(project: MakeProject, tmp_path: Path) -> None:
    root = project("node-cjs-bundle")
    report = build_json(root)
    [artifact] = report["artifacts"]
    zip_path = root / "dist" / "node-cjs-bundle.zip"
    assert sorted(n for n in names(zip_path) if not n.endswith("/")) == ["src/handler.js", "src/handler.js.map"]
    bundle = artifact["bundle"]
    assert (bundle["format"], bundle["target"], bundle["sourcemap"], bundle["external"]) == (
        "cjs",
        "node22",
        "file",
        [],
    )
    assert {p["name"] for p in bundle["bundled"]} == {"(project)", "lp-node-dep", "lp-node-weird"}
    assert any("NODE_OPTIONS=--enable-source-maps" in n for n in artifact["notes"])
    task = _unzip(zip_path, tmp_path / "task")
    source = (task / "src" / "handler.js").read_text()
    assert source.rstrip().endswith("//# sourceMappingURL=handler.js.map")
    assert "@aws-sdk/client-fake" in source  # left as a require: the runtime provides it
    # The map's sources are relative to where the bundle sits on Lambda (/var/task/src).
    assert json.loads((task / "src" / "handler.js.map").read_text())["sources"] == [
        "../node_modules/lp-node-dep/index.js",
        "../node_modules/lp-node-weird/docs/index.js",
        "handler.js",
    ]
    # `lpack inspect` reads the bundle's packages from its source map.
    inspected = lpack("inspect", zip_path, "--json")
    assert inspected.exit_code == 0, inspected.output
    listed_packages = {p["name"]: p for p in json.loads(inspected.stdout)["packages"]}
    assert {"lp-node-dep (bundled)", "lp-node-weird (bundled)"} <= listed_packages.keys()
    assert listed_packages["lp-node-dep (bundled)"]["bytes"] == len("exports.shout = (s) => s.toUpperCase() + '!';\n")
    # `define` replaced process.env.STAGE at build time.
    assert _run_handler(task, "src/handler.js", "main", {}) == {"message": "WEIRD!", "stage": "prod", "sdk": None}


def _configure(root: Path, text: str) -> None:
    (root / "lpack.toml").write_text(text)


def test_inline_source_map_banner_and_no_minify(project: MakeProject, tmp_path: Path) -> None:
    root = project("node-cjs-bundle")
    _configure(
        root,
        'runtime = "nodejs20.x"\nhandler = "src/handler.main"\n'
        '[bundle]\nminify = false\nsourcemap = "inline"\nbanner = "/* built by lpack */"\ntarget = "node18"\n',
    )
    [artifact] = build_json(root)["artifacts"]
    text = _unzip(root / "dist" / "node-cjs-bundle.zip", tmp_path / "t").joinpath("src/handler.js").read_text()
    assert text.startswith("/* built by lpack */")
    assert "sourceMappingURL=data:application/json;base64," in text
    assert "exports.main = async" in text or "main: () => main" in text  # readable, not minified
    assert artifact["bundle"]["target"] == "node18"
    assert not any(n.endswith(".map") for n in names(root / "dist" / "node-cjs-bundle.zip"))


def test_external_package_ships_in_node_modules(project: MakeProject, tmp_path: Path) -> None:
    root = project("node-cjs-bundle")
    _configure(
        root, 'runtime = "nodejs20.x"\nhandler = "src/handler.main"\nbundle = true\nexternal = ["lp-node-weird"]\n'
    )
    [artifact] = build_json(root)["artifacts"]
    listed = set(names(root / "dist" / "node-cjs-bundle.zip"))
    assert "node_modules/lp-node-weird/docs/index.js" in listed
    assert not {n for n in listed if "lp-node-dep" in n}
    # Not left out this time: the SDK is bundled, with what it needs.
    assert {p["name"] for p in artifact["bundle"]["external"]} == {"lp-node-weird"}
    assert "@aws-sdk/client-fake" in {p["name"] for p in artifact["bundle"]["bundled"]}
    # lpack verify runs the CommonJS bundle, which requires the external package from node_modules.
    event = tmp_path / "event.json"
    event.write_text('{"sdk": true}')
    zip_path = root / "dist" / "node-cjs-bundle.zip"
    verified = lpack("verify", zip_path, "--runtime", "nodejs20.x", "--handler", "src/handler.main", "--event", event)
    assert verified.exit_code == 0, verified.output
    assert '"message": "WEIRD!"' in verified.output and '"sdk": "smithy"' in verified.output


def test_an_unresolvable_import_fails_naming_file_and_line(project: MakeProject) -> None:
    root = project("node-ts-esm")
    (root / "src" / "index.ts").write_text('import x from "not-installed";\nexport const handler = () => x;\n')
    result = lpack("build", root)
    assert result.exit_code == 1
    assert "error: bundling src/index.ts for nodejs20.x/x86_64:" in result.output
    assert "not-installed" in result.output and "src/index.ts:1:" in result.output
    assert "Traceback" not in result.output
    assert not (root / "dist" / "node-ts-esm.zip").exists()


def test_a_missing_entry_names_the_files_looked_for(project: MakeProject) -> None:
    root = project("node-ts-esm")
    _configure(root, 'runtime = "nodejs20.x"\nhandler = "src/main.handler"\nbundle = true\n')
    result = lpack("build", root)
    assert result.exit_code == 2
    assert 'handler "src/main.handler": none of src/main.ts' in result.output


@pytest.mark.network
def test_esbuild_installs_from_the_registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LPACK_ESBUILD")
    found = find_esbuild(tmp_path)
    assert found.version == ESBUILD_VERSION and not found.note
    # A damaged cache entry is noticed (sha256) and replaced.
    found.path.write_bytes(b"#!/bin/sh\necho 0.0.0\n")
    again = find_esbuild(tmp_path)
    assert again.path == found.path
    assert subprocess.run(
        [str(again.path), "--version"], capture_output=True, text=True, check=True
    ).stdout.strip() == (ESBUILD_VERSION)


def test_rebuilds_see_every_project_change_and_never_trust_a_changed_cache(
    project: MakeProject, tmp_path: Path
) -> None:
    root = project("node-ts-esm")
    # Outside `source`, a file the bundle imports: the cached result must not stand in.
    (root / "lpack.toml").write_text(
        'runtime = "nodejs20.x"\nhandler = "index.handler"\nsource = "src"\nbundle = true\n'
    )
    build_json(root)
    (root / "src" / "lib" / "greet.ts").write_text("export const greet = (n: string): string => `bye ${n}`;\n")
    build_json(root)
    task = _unzip(root / "dist" / "node-ts-esm.zip", tmp_path / "one")
    assert _run_handler(task, "index.mjs", "handler", {"name": "x"}) == {"message": "BYE X!", "arch": "x64"}
    # The npm ci tree in the cache, changed behind lpack's back: found out, installed again.
    [installed] = list(Path(os.environ["LPACK_CACHE_DIR"]).glob("deps/*/install/node_modules/lp-native-node/index.js"))
    installed.write_text("module.exports = 'tampered';\n")
    (root / "src" / "lib" / "greet.ts").write_text("export const greet = (n: string): string => `hi ${n}`;\n")
    build_json(root)
    task = _unzip(root / "dist" / "node-ts-esm.zip", tmp_path / "two")
    assert _run_handler(task, "index.mjs", "handler", {"name": "x"}) == {"message": "HI X!", "arch": "x64"}


def test_diff_of_two_reports_names_bundled_packages(project: MakeProject, tmp_path: Path) -> None:
    root = project("node-ts-esm")
    assert lpack("build", root, "--report", tmp_path / "old.json").exit_code == 0
    source = root / "src" / "index.ts"
    source.write_text(
        source.read_text().replace('import { shout } from "lp-node-dep";', "const shout = (s: string) => s;")
    )
    assert lpack("build", root, "--report", tmp_path / "new.json").exit_code == 0
    [old] = json.loads((tmp_path / "old.json").read_text())["artifacts"]
    [dep] = [p for p in old["bundle"]["bundled"] if p["name"] == "lp-node-dep"]
    assert dep["version"] == "1.0.0" and dep["bytes"] > 0
    result = lpack("diff", tmp_path / "old.json", tmp_path / "new.json")
    assert result.exit_code == 0, result.output
    assert "lp-node-dep (bundled) 1.0.0 removed" in result.output


def test_esbuild_warnings_become_build_warnings(project: MakeProject) -> None:
    root = project("node-cjs-bundle")
    (root / "src" / "handler.js").write_text("exports.main = async (e) => ({ zero: e.n === -0 });\n")
    report = build_json(root)
    assert any(w.startswith("node-cjs-bundle: esbuild: ") and "-0" in w for w in report["warnings"]), report["warnings"]


def test_a_secret_inlined_into_a_bundle_is_found_like_one_in_the_sources(project: MakeProject) -> None:
    # Found in review: a bundle skipped the content scan, so --strict passed a token that the zip carried.
    root = project("node-cjs-bundle")
    handler = root / "src" / "handler.js"
    token = "ghp_" + "a1B2" * 9
    handler.write_text(handler.read_text() + f'\nexports.token = "{token}";\n')
    warned = lpack("build", root)
    assert warned.exit_code == 0 and "looks like a secret" in " ".join(warned.output.split())
    strict = lpack("build", root, "--strict", "--no-cache")
    assert strict.exit_code == 1 and "holds a secret" in " ".join(strict.output.split())
    assert token not in strict.output
