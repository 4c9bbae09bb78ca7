"""Image pieces that need no registry: layer tars, references, config keys, the image sizer."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import os
import tarfile
from pathlib import Path
from typing import Any

import pytest

from lpack import runtimes
from lpack.archive import writer as _archive
from lpack.config import Budget, Overrides, load_config
from lpack.config.reference import parse_reference
from lpack.emit.image import image_config, split_layers
from lpack.errors import ConfigError
from lpack.oci import LayerInfo
from lpack.oci.auth import from_docker_config
from lpack.oci.ecr import is_ecr
from lpack.oci.registry import plain_http
from lpack.size import measure_image
from lpack.staging.tree import Entry, StagingTree, scan

LONG = "pkg/" + "d" * 120 + "/" + "f" * 120 + ".py"  # over ustar's 255-character name limit


def _tree(root: Path, files: dict[str, tuple[bytes, int]]) -> StagingTree:
    for name, (data, mode) in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        path.chmod(mode)
    return scan(root, "code")


def test_layer_tar_is_deterministic_and_normalized(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = {"app.py": (b"x = 1\n", 0o600), "bin/tool": (b"#!/bin/sh\n", 0o700), LONG: (b"", 0o666)}
    tree = _tree(tmp_path / "src", files)
    first = _archive.write_layer(tree, tmp_path / "a.tar.gz", prefix="/var/task/")
    os.utime(tmp_path / "src" / "app.py", (1, 1))
    second = _archive.write_layer(scan(tmp_path / "src", "code"), tmp_path / "b.tar.gz", prefix="var/task")
    assert (tmp_path / "a.tar.gz").read_bytes() == (tmp_path / "b.tar.gz").read_bytes()
    assert first == second
    raw = gzip.decompress((tmp_path / "a.tar.gz").read_bytes())
    assert first.diff_id == "sha256:" + hashlib.sha256(raw).hexdigest() and first.uncompressed_bytes == len(raw)
    with tarfile.open(tmp_path / "a.tar.gz") as tar:
        members = {m.name: m for m in tar.getmembers()}
    assert list(members)[:2] == ["var", "var/task"]
    assert f"var/task/{LONG}" in members
    assert members["var/task/app.py"].mode == 0o644 and members["var/task/bin/tool"].mode == 0o755
    assert all((m.uid, m.gid, m.uname, m.gname, m.mtime) == (0, 0, "", "", 0) for m in members.values())


def test_layer_mtime_follows_source_date_epoch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    _archive.write_layer(_tree(tmp_path / "src", {"a.py": (b"", 0o644)}), tmp_path / "l.tgz", prefix="")
    with tarfile.open(tmp_path / "l.tgz") as tar:
        assert {m.mtime for m in tar.getmembers()} == {1_700_000_000}


def test_pyc_goes_with_its_source_into_the_code_layer(tmp_path: Path) -> None:
    src = tmp_path / "f"
    src.write_text("")

    def entry(path: str, origin: str) -> Entry:
        return Entry(path=path, source=src, size=0, executable=False, origin=origin)  # type: ignore[arg-type]

    tree = StagingTree.of(
        [
            entry("app.py", "code"),
            entry("__pycache__/app.cpython-312.pyc", "bytecode"),
            entry("dep/__init__.py", "deps"),
            entry("dep/__pycache__/__init__.cpython-312.pyc", "bytecode"),
        ]
    )
    deps, code = split_layers(tree)
    assert sorted(code.paths()) == ["__pycache__/app.cpython-312.pyc", "app.py"]
    assert sorted(deps.paths()) == ["dep/__init__.py", "dep/__pycache__/__init__.cpython-312.pyc"]


def test_config_keeps_entrypoint_and_env_and_sets_cmd() -> None:
    base: dict[str, Any] = {
        "architecture": "amd64",
        "os": "linux",
        "config": {"Entrypoint": ["/lambda-entrypoint.sh"], "Env": ["A=1"], "Cmd": ["x.y"]},
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + "a" * 64]},
        "history": [{"created_by": "base"}],
    }
    layer = LayerInfo(
        origin="code", digest="sha256:" + "b" * 64, diff_id="sha256:" + "c" * 64, size=1, uncompressed_size=2
    )
    config = image_config(base, "arm64", "app.handler", [layer], "1970-01-01T00:00:00Z")
    assert (config["architecture"], config["variant"], config["created"]) == ("arm64", "v8", "1970-01-01T00:00:00Z")
    assert config["config"] == {"Entrypoint": ["/lambda-entrypoint.sh"], "Env": ["A=1"], "Cmd": ["app.handler"]}
    assert config["rootfs"]["diff_ids"][-1] == layer.diff_id and len(config["history"]) == 2
    assert base["config"]["Cmd"] == ["x.y"]  # the base's own dict is untouched


@pytest.mark.parametrize(
    ("text", "host", "repo", "version"),
    [
        ("python:3.12", "registry-1.docker.io", "library/python", "3.12"),
        ("public.ecr.aws/lambda/python:3.12", "public.ecr.aws", "lambda/python", "3.12"),
        ("localhost:5000/fn", "localhost:5000", "fn", "latest"),
        ("127.0.0.1:5000/a/b@sha256:" + "0" * 64, "127.0.0.1:5000", "a/b", "sha256:" + "0" * 64),
    ],
)
def test_references_parse_like_docker(text: str, host: str, repo: str, version: str) -> None:
    ref = parse_reference(text)
    assert (ref.host, ref.repository, ref.version) == (host, repo, version)


def test_bad_reference_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="is not an image reference"):
        parse_reference("Host.example/UPPER:tag")


def test_plain_http_only_for_loopback_or_when_asked() -> None:
    assert plain_http("127.0.0.1:5000") and plain_http("localhost:5000") and plain_http("localhost")
    assert not plain_http("registry.example:5000")
    assert plain_http("registry.example:5000", ("registry.example:5000",))


def test_image_sizer_counts_base_layers_and_the_manifest(tmp_path: Path) -> None:
    tree = _tree(tmp_path, {"a.py": (b"x", 0o644)})
    ok = measure_image(
        tree, image_bytes=10, compressed_bytes=5, own_compressed=1, manifest_bytes=25_399, budget=Budget()
    )
    assert not ok.over
    big = measure_image(
        tree,
        image_bytes=runtimes.MAX_IMAGE_BYTES + 1,
        compressed_bytes=5,
        own_compressed=1,
        manifest_bytes=25_400,
        budget=Budget(),
    )
    assert {f.limit for f in big.findings} == {"lambda-image", "lambda-image-manifest"} and big.over


def _config(tmp_path: Path, extra: str) -> Path:
    (tmp_path / "lpack.toml").write_text(f'runtime = "python3.12"\nhandler = "app.handler"\n{extra}')
    return tmp_path


def test_format_and_base_keys(tmp_path: Path) -> None:
    config = load_config(_config(tmp_path, 'format = "image"\nbase = "public.ecr.aws/lambda/python:3.13"\n'))
    assert (config.functions[0].format, config.functions[0].base) == ("image", "public.ecr.aws/lambda/python:3.13")
    with pytest.raises(ConfigError, match='did you mean "image"'):
        load_config(_config(tmp_path, 'format = "imgae"\n'))
    with pytest.raises(ConfigError, match="is not an image reference"):
        load_config(_config(tmp_path, 'base = "Not A Ref"\n'))


def test_image_delivery_options_are_checked(tmp_path: Path) -> None:
    root = _config(tmp_path, "")
    with pytest.raises(ConfigError, match="is not oci:DIR or docker-archive:FILE"):
        load_config(root, Overrides(format="image", outputs=("tar:x",)))
    with pytest.raises(ConfigError, match="apply to images only"):
        load_config(root, Overrides(push="127.0.0.1:5000/x:1"))
    config = load_config(root, Overrides(format="image", push="127.0.0.1:5000/x:1", insecure_registries=("h:1",)))
    assert config.image.push == "127.0.0.1:5000/x:1" and config.image.insecure == ("h:1",)


def test_local_bases_in_config_are_relative_to_the_project(tmp_path: Path) -> None:
    config = load_config(_config(tmp_path, 'base = "oci:images/base:3.12"\n'))
    assert config.functions[0].base == f"oci:{tmp_path / 'images' / 'base'}:3.12"


def test_docker_config_credentials_match_host_spellings(tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text(
        json.dumps(
            {
                "auths": {
                    "https://index.docker.io/v1/": {"auth": base64.b64encode(b"hub:pw").decode()},
                    "https://registry.example:5000": {"auth": base64.b64encode(b"me:secret:with:colons").decode()},
                    "helper.example": {},  # written by a credential helper: no inline auth
                }
            }
        )
    )
    assert from_docker_config("registry-1.docker.io", config) == ("hub", "pw")
    assert from_docker_config("registry.example:5000", config) == ("me", "secret:with:colons")
    assert from_docker_config("helper.example", config) is None
    assert from_docker_config("other.example", tmp_path / "missing.json") is None


def test_ecr_hosts_are_recognized() -> None:
    assert is_ecr("123456789012.dkr.ecr.eu-west-1.amazonaws.com")
    assert is_ecr("123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com")
    assert is_ecr("123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn")
    assert not is_ecr("public.ecr.aws") and not is_ecr("dkr.ecr.eu-west-1.amazonaws.com")
