"""Bundle configuration, the packages a bundle leaves external, and esbuild's metafile read as package sizes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lpack.config import load_config
from lpack.config.model import BundleConfig
from lpack.errors import ConfigError, ResolveError
from lpack.resolve import node_packages
from lpack.resolve.bundle import ENTRY_EXTENSIONS, bundled_packages, output_format
from lpack.resolve.esbuild import ESBUILD_VERSION, find_esbuild

_NODE = 'runtime = "nodejs20.x"\nhandler = "src/index.handler"\n'


def _load(tmp_path: Path, text: str) -> BundleConfig | None:
    (tmp_path / "lpack.toml").write_text(text)
    [fn] = load_config(tmp_path).functions
    return fn.bundle


def _error(tmp_path: Path, text: str) -> str:
    (tmp_path / "lpack.toml").write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path)
    return str(info.value)


def test_bundle_true_takes_the_defaults_and_false_or_absent_none(tmp_path: Path) -> None:
    assert _load(tmp_path, _NODE + "bundle = true\n") == BundleConfig(minify=True, sourcemap="off", require_shim=True)
    assert _load(tmp_path, _NODE + "bundle = false\n") is None
    assert _load(tmp_path, _NODE) is None


def test_a_bundle_table_sets_esbuild_options(tmp_path: Path) -> None:
    found = _load(
        tmp_path,
        _NODE + '[bundle]\nminify = false\nsourcemap = "file"\ntarget = "node18"\nbanner = "/* b */"\n'
        'require-shim = false\ndefine = { "process.env.X" = \'"1"\' }\n',
    )
    assert found == BundleConfig(
        minify=False,
        sourcemap="file",
        target="node18",
        banner="/* b */",
        require_shim=False,
        define=(("process.env.X", '"1"'),),
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[bundle]\nsourcemap = "yes"\n', '[bundle] sourcemap: "yes" is not one of off, inline, file'),
        ('[bundle]\ntarget = "es2020"\n', '[bundle] target: "es2020" is not a Node.js target'),
        ("[bundle]\nminfy = true\n", '[bundle] minfy: unknown key; did you mean "minify"?'),
        ('external = ["sharp"]\n', "external: names packages left out of a bundle, but this function is not bundled"),
        ("bundle = 1\n", "bundle: expected true, false or a table of bundle options"),
        ('kind = "prebuilt"\nbundle = true\n', "bundle: a prebuilt directory is packed as it is: it takes no bundle"),
    ],
)
def test_bad_bundle_config_names_the_key(tmp_path: Path, text: str, expected: str) -> None:
    assert expected in _error(tmp_path, _NODE + text)


def test_bundle_is_for_node_functions_only(tmp_path: Path) -> None:
    message = _error(tmp_path, 'runtime = "python3.12"\nhandler = "app.handler"\nbundle = true\n')
    assert "bundle: bundles Node.js functions; python3.12 is not one" in message


def _package(root: Path, rel: str, files: dict[str, str] | None = None, **manifest: object) -> Path:
    pkg = root / rel
    pkg.mkdir(parents=True)
    (pkg / "package.json").write_text(json.dumps({"name": rel.rsplit("node_modules/", 1)[1], **manifest}))
    for name, text in (files or {}).items():
        (pkg / name).parent.mkdir(parents=True, exist_ok=True)
        (pkg / name).write_text(text)
    return pkg


def test_native_packages_are_found_by_addon_gyp_and_per_platform_optional_deps(tmp_path: Path) -> None:
    _package(tmp_path, "node_modules/plain", {"index.js": ""}, dependencies={"dep": "1"})
    _package(tmp_path, "node_modules/dep", {"index.js": ""})
    _package(tmp_path, "node_modules/addon", {"build/Release/x.node": "elf"})
    _package(tmp_path, "node_modules/gyp", {"binding.gyp": "{}"})
    _package(tmp_path, "node_modules/sharpish", optionalDependencies={"@img/x-linux-x64": "1", "@img/x-darwin": "1"})
    _package(tmp_path, "node_modules/@img/x-linux-x64", os=["linux"], cpu=["x64"])
    # A native package nested under a pure one makes the pure one external: the layout must stay.
    _package(tmp_path, "node_modules/wrapper", {"index.js": ""})
    _package(tmp_path, "node_modules/wrapper/node_modules/inner", {"a.node": "elf"})
    assert node_packages.native(tmp_path) == {"addon", "gyp", "sharpish", "@img/x-linux-x64", "wrapper"}


def test_closure_follows_nested_then_hoisted_dependencies(tmp_path: Path) -> None:
    _package(tmp_path, "node_modules/a", dependencies={"b": "1", "c": "1"})
    _package(tmp_path, "node_modules/a/node_modules/b", dependencies={"d": "1"})
    _package(tmp_path, "node_modules/b")  # shadowed for a by its nested b
    _package(tmp_path, "node_modules/c")
    _package(tmp_path, "node_modules/d")
    _package(tmp_path, "node_modules/unused")
    found = {p.relative_to(tmp_path).as_posix() for p in node_packages.closure(tmp_path, ["a"])}
    assert found == {"node_modules/a", "node_modules/a/node_modules/b", "node_modules/c", "node_modules/d"}
    dest = tmp_path / "out"
    node_packages.copy_packages(tmp_path, node_packages.closure(tmp_path, ["a"]), dest)
    copied = sorted(p.relative_to(dest).as_posix() for p in dest.rglob("package.json"))
    assert copied == [
        "node_modules/a/node_modules/b/package.json",
        "node_modules/a/package.json",
        "node_modules/c/package.json",
        "node_modules/d/package.json",
    ]


def test_metafile_inputs_are_summed_per_package(tmp_path: Path) -> None:
    meta = {
        "outputs": {
            "out/index.js": {
                "inputs": {
                    "src/index.ts": {"bytesInOutput": 100},
                    "src/lib/a.ts": {"bytesInOutput": 20},
                    "node_modules/@scope/pkg/dist/x.js": {"bytesInOutput": 300},
                    "node_modules/a/node_modules/b/index.js": {"bytesInOutput": 7},
                }
            }
        }
    }
    found = [(p.name, p.bytes) for p in bundled_packages(meta)]
    assert found == [("@scope/pkg", 300), ("(project)", 120), ("b", 7)]


@pytest.mark.parametrize(
    ("entry", "package_type", "expected"),
    [
        ("index.ts", None, "cjs"),
        ("index.ts", "module", "esm"),
        ("index.mts", None, "esm"),
        ("index.mjs", None, "esm"),
        ("index.cts", "module", "cjs"),
        ("index.cjs", "module", "cjs"),
        ("index.js", "commonjs", "cjs"),
    ],
)
def test_output_format_follows_the_entry_and_the_package_type(
    tmp_path: Path, entry: str, package_type: str | None, expected: str
) -> None:
    (tmp_path / "package.json").write_text(json.dumps({"type": package_type} if package_type else {}))
    assert output_format(tmp_path / entry, tmp_path) == expected
    assert Path(entry).suffix in ENTRY_EXTENSIONS


def test_lpack_esbuild_must_run_as_esbuild(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "esbuild"
    fake.write_text("#!/bin/sh\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("LPACK_ESBUILD", str(fake))
    with pytest.raises(ResolveError, match="LPACK_ESBUILD=esbuild: does not run as esbuild"):
        find_esbuild(tmp_path / "cache")
    fake.write_text("#!/bin/sh\necho 0.1.0\n")
    found = find_esbuild(tmp_path / "cache")
    assert found.version == "0.1.0" and f"lpack pins {ESBUILD_VERSION}" in found.note
    assert not (tmp_path / "cache").exists()  # nothing installed when told which binary to use
