"""Layers and the function that uses them, built together."""

from __future__ import annotations

from lpack import build, load_config
from lpack.cache import Cache
from tests.conftest import MakeProject
from tests.functional.fake_uv import FakeUv
from tests.functional.zips import files, members


def test_layers_are_built_first_under_their_runtime_paths(project: MakeProject, fake_uv: FakeUv, cache: Cache) -> None:
    root = project("with-layers")
    result = build(load_config(root), runner=fake_uv, cache=cache)
    by_name = {r.name: r for r in result.functions}
    assert [(r.name, r.role) for r in result.functions] == [
        ("shared", "layer"),
        ("pinned", "layer"),
        ("api", "function"),
    ]
    shared = members(by_name["shared"].artifact.path)
    assert by_name["shared"].artifact.path == root / "dist" / "shared-layer.zip"
    # Lambda extracts a layer under /opt: Python code under python/, tools under bin/ (on PATH).
    assert {name.split("/")[0] for name in shared} == {"python", "bin"}
    assert "python/lp_pure_a/core.py" in shared
    assert shared["bin/tool"].data == (root / "layer-bin" / "tool").read_bytes()
    assert shared["bin/tool"].mode == 0o755
    pinned = files(by_name["pinned"].artifact.path)
    assert "python/lib/python3.12/site-packages/urllib3/__init__.py" in pinned
    assert all(n.startswith("python/lib/python3.12/site-packages/") for n in pinned)
    assert any("python3.12 only" in w for w in by_name["pinned"].warnings)
    # What PublishLayerVersion will be told.
    assert by_name["shared"].compatible_runtimes == ("python3.12", "python3.13")
    assert by_name["shared"].compatible_architectures == ("x86_64", "arm64")


def test_a_function_counts_its_layers_and_leaves_their_folders_out(
    project: MakeProject, fake_uv: FakeUv, cache: Cache
) -> None:
    root = project("with-layers")
    result = build(load_config(root), runner=fake_uv, cache=cache)
    api = result.functions[-1]
    assert api.layers == ("shared", "pinned")
    code = files(api.artifact.path)
    assert "app.py" in code and "lp_native/_native.abi3.so" in code
    assert not [n for n in code if n.startswith(("layer-bin/", "python/", "bin/tool"))]
    # lp-pure-b is in the function's requirements and in the shared layer: said, not silently packed twice.
    assert any("lp-pure-b" in w and "shared" in w for w in api.warnings)
    assert result.warnings == tuple(f"{f.name}: {w}" for f in result.functions for w in f.warnings)
