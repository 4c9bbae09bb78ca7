"""Container images end to end against real components on 127.0.0.1: docker-registry, skopeo, umoci."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import shutil
import stat
import subprocess
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lpack.oci import Descriptor
from lpack.oci.registry import RegistryClient
from tests.conftest import MakeProject
from tests.integration._helpers import build_json, lpack
from tests.integration._oci import (
    ENTRYPOINT,
    OCI_MANIFEST,
    Registry,
    TokenServer,
    free_port,
    make_base,
    push_base,
    require,
    run_dockerd,
    run_registry,
    skopeo,
)


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    require("docker-registry", "skopeo")
    with run_registry(tmp_path_factory.mktemp("registry")) as reg:
        yield reg


@pytest.fixture(scope="session")
def base_layout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_base(tmp_path_factory.mktemp("base"))


@pytest.fixture(scope="session")
def base_ref(registry: Registry, base_layout: Path) -> str:
    """A multi-arch (amd64 + arm64) index in the registry, as public.ecr.aws/lambda/python is."""
    return push_base(base_layout, registry, "lambda/python:3.12")


@pytest.fixture(autouse=True)
def _own_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LPACK_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker-config"))  # no credentials from this machine


def image_project(make: MakeProject, base: str, name: str = "hello") -> Path:
    """The hello fixture as an image function on `base`."""
    root = make(name)
    config = root / "pyproject.toml"
    text = config.read_text().replace(
        'handler = "app.handler"', f'handler = "app.handler"\nformat = "image"\nbase = "{base}"'
    )
    config.write_text(text)
    return root


def image_of(report: dict[str, Any]) -> dict[str, Any]:
    [artifact] = report["artifacts"]
    assert artifact["kind"] == "image"
    image: dict[str, Any] = artifact["image"]
    return image


def inspect(ref: str, *flags: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(skopeo("inspect", "--tls-verify=false", *flags, f"docker://{ref}"))
    return data


@pytest.mark.parametrize(("arch", "goarch"), [("x86_64", "amd64"), ("arm64", "arm64")])
def test_builds_on_a_multi_arch_base_and_pushes_one_manifest(
    project: MakeProject, registry: Registry, base_ref: str, tmp_path: Path, arch: str, goarch: str
) -> None:
    require("umoci")
    root = image_project(project, base_ref)
    target = f"{registry.host}/fn/hello-{goarch}:v1"
    image = image_of(build_json(root, "--arch", arch, "--push", target))
    assert image["platform"] == f"linux/{goarch}"
    assert image["pushed"] == f"{registry.host}/fn/hello-{goarch}@{image['digest']}"
    assert [layer["origin"] for layer in image["layers"]] == ["base", "deps", "code"]
    raw = inspect(target, "--raw")
    assert raw["mediaType"] == OCI_MANIFEST and "manifests" not in raw  # never an index: Lambda rejects those
    assert [layer["digest"] for layer in raw["layers"]] == [layer["digest"] for layer in image["layers"]]
    config = inspect(target, "--config")
    assert (config["architecture"], config["os"]) == (goarch, "linux")
    assert config["config"]["Cmd"] == ["app.handler"]
    assert config["config"]["Entrypoint"] == ENTRYPOINT
    assert "LAMBDA_TASK_ROOT=/var/task" in config["config"]["Env"]
    assert len(config["history"]) == 3 and len(config["rootfs"]["diff_ids"]) == 3
    rootfs = _unpack(target, tmp_path)
    assert (rootfs / "lambda-entrypoint.sh").read_text().startswith("#!/bin/sh\necho base-" + goarch)
    task = rootfs / "var" / "task"
    assert stat.S_IMODE((task / "app.py").stat().st_mode) == 0o644
    assert stat.S_IMODE((task / "lp_pure_a").stat().st_mode) == 0o755
    assert stat.S_IMODE(task.stat().st_mode) == 0o755
    assert (task / "lp_native").is_dir() and list((task / "__pycache__").glob("app.cpython-312.pyc"))


def _unpack(ref: str, tmp_path: Path) -> Path:
    """What a runtime sees: the registry's image copied to a layout by skopeo, unpacked by umoci."""
    layout = tmp_path / "pulled"
    skopeo("copy", "--quiet", "--src-tls-verify=false", f"docker://{ref}", f"oci:{layout}:pulled")
    bundle = tmp_path / "bundle"
    subprocess.run(["umoci", "unpack", "--rootless", "--image", f"{layout}:pulled", str(bundle)], check=True)
    return bundle / "rootfs"


def test_builds_are_reproducible_and_a_code_change_changes_only_the_code_layer(
    project: MakeProject, base_ref: str, tmp_path: Path
) -> None:
    root = image_project(project, base_ref)
    first = image_of(build_json(root, "--output", f"oci:{tmp_path / 'one'}"))
    time.sleep(1.1)  # a second later: no clock may leak into the image
    second = image_of(build_json(root, "--output", f"oci:{tmp_path / 'two'}"))
    one, two = _files(tmp_path / "one"), _files(tmp_path / "two")
    assert sorted(one) == sorted(two)
    for name in one:  # member by member, so a failure names the blob
        assert one[name] == two[name], name
    assert first["digest"] == second["digest"]
    with (root / "app.py").open("a") as fh:
        fh.write("\n# a code change\n")
    third = image_of(build_json(root))
    changed = [a["origin"] for a, b in zip(first["layers"], third["layers"], strict=True) if a["digest"] != b["digest"]]
    assert changed == ["code"]
    assert third["digest"] != first["digest"]


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_layers_are_normalized_tars(project: MakeProject, base_ref: str, tmp_path: Path) -> None:
    root = image_project(project, base_ref)
    (root / "run.sh").write_text("#!/bin/sh\n")
    (root / "run.sh").chmod(0o700)
    layout = tmp_path / "img"
    image = image_of(build_json(root, "--output", f"oci:{layout}"))
    for layer in image["layers"][1:]:
        blob = layout / "blobs" / "sha256" / layer["digest"].split(":")[1]
        assert blob.read_bytes()[4:8] == b"\0\0\0\0"  # gzip MTIME
        with tarfile.open(blob) as tar:
            members = tar.getmembers()
        assert [m.name for m in members] == sorted(m.name for m in members)
        for m in members:
            assert (m.uid, m.gid, m.uname, m.gname, m.mtime) == (0, 0, "", "", 0), m.name
            assert m.name.startswith("var/task") or m.name == "var", m.name
            assert m.mode == (
                0o755 if m.isdir() or m.name.endswith(("run.sh", ".so")) or "/bin/" in m.name else 0o644
            ), m.name


def test_docker_archive_output_and_bases_from_layout_and_archive(
    project: MakeProject, base_layout: Path, tmp_path: Path
) -> None:
    archive = tmp_path / "hello.tar"
    root = image_project(project, f"oci:{base_layout}:base")
    image = image_of(build_json(root, "--output", f"docker-archive:{archive}"))
    assert f"docker-archive:{archive}" in image["outputs"]
    seen = json.loads(skopeo("inspect", f"docker-archive:{archive}"))
    assert (seen["Architecture"], seen["Os"]) == ("arm64", "linux")
    assert len(seen["Layers"]) == 3
    # The archive is itself a base: build on it again (as `docker save` output would be used).
    again = project("no-deps")
    with (again / "lpack.toml").open("a") as fh:
        fh.write(f'base = "docker-archive:{archive}"\n')
    rebuilt = build_json(again, "--format", "image", "--arch", "arm64", "--output", f"oci:{tmp_path / 'two'}")
    assert [layer["origin"] for layer in image_of(rebuilt)["layers"]] == ["base", "base", "base", "code"]


def test_push_sends_only_missing_blobs_and_mounts_base_layers(
    project: MakeProject, registry: Registry, base_ref: str
) -> None:
    root = image_project(project, base_ref)
    first = image_of(build_json(root, "--push", f"{registry.host}/fn/mounted:v1"))
    # The base layer is linked from lambda/python (same registry); deps, code and config are sent.
    assert first["push"] == {"mounted": 1, "uploaded": 3, "present": 0}
    again = image_of(build_json(root, "--push", f"{registry.host}/fn/mounted:v2"))
    assert again["push"] == {"mounted": 0, "uploaded": 0, "present": 4}
    assert again["digest"] == first["digest"]


def test_chunked_upload_against_the_registry(registry: Registry, tmp_path: Path) -> None:
    data = os.urandom(100_000)
    blob = tmp_path / "blob"
    blob.write_bytes(data)
    desc = Descriptor(
        media_type="application/octet-stream", digest=f"sha256:{hashlib.sha256(data).hexdigest()}", size=len(data)
    )
    client = RegistryClient(registry.host, monolithic_max=10_000, chunk_size=30_000)
    assert not client.has_blob("chunked/test", desc.digest)
    client.upload_blob("chunked/test", desc, blob)
    assert client.has_blob("chunked/test", desc.digest)
    assert b"".join(client.get_blob("chunked/test", desc.digest)) == data


# --- bad input: clear errors, nothing pushed -------------------------------------------------------------------


def _fails(root: Path, *args: str) -> str:
    result = lpack("build", root, *args)
    assert result.exit_code == 1, result.output
    return " ".join(result.stderr.split())


def test_base_that_does_not_exist(project: MakeProject, registry: Registry) -> None:
    root = image_project(project, f"{registry.host}/lambda/missing:3.12")
    err = _fails(root, "--push", f"{registry.host}/fn/never:v1")
    assert f"{registry.host}/lambda/missing:3.12" in err and "not found" in err
    assert registry.manifest_status("fn/never", "v1") == 404


def test_arch_missing_from_base_index(project: MakeProject, registry: Registry, tmp_path: Path) -> None:
    ref = push_base(make_base(tmp_path / "amd64-only", arches=("amd64",)), registry, "lambda/amd64only:1")
    root = image_project(project, ref)  # hello targets arm64
    err = _fails(root, "--push", f"{registry.host}/fn/never-arch:v1")
    assert "no linux/arm64 image" in err and "linux/amd64" in err
    assert registry.manifest_status("fn/never-arch", "v1") == 404


def test_registry_down(project: MakeProject) -> None:
    host = f"127.0.0.1:{free_port()}"  # nothing listens there
    err = _fails(image_project(project, f"{host}/lambda/python:3.12"))
    assert f"registry {host} is unreachable" in err and 'base = "oci:DIR"' in err


def test_push_target_down(project: MakeProject, base_layout: Path) -> None:
    host = f"127.0.0.1:{free_port()}"
    err = _fails(image_project(project, f"oci:{base_layout}:base"), "--push", f"{host}/fn/hello:v1")
    assert f"registry {host} is unreachable" in err


def test_a_refused_mount_becomes_an_upload(registry: Registry, tmp_path: Path) -> None:
    # Mounting a blob the source repository lacks: the registry opens an ordinary upload (202), as ECR
    # always does; the blob goes up through that same upload.
    blob = tmp_path / "blob"
    blob.write_bytes(b"not in lambda/python")
    digest = "sha256:" + hashlib.sha256(blob.read_bytes()).hexdigest()
    client = RegistryClient(registry.host)
    location = client.mount_blob("fn/nomount", digest, "lambda/python")
    assert location is not None and "/v2/fn/nomount/blobs/uploads/" in location
    client.upload_blob("fn/nomount", Descriptor(media_type="", digest=digest, size=20), blob, location=location)
    assert client.has_blob("fn/nomount", digest)


def test_default_base_names_itself_when_unreachable(project: MakeProject, monkeypatch: pytest.MonkeyPatch) -> None:
    # No network in tests: make sure the default base cannot be reached even on a connected machine.
    monkeypatch.setenv("https_proxy", f"http://127.0.0.1:{free_port()}")
    root = project("hello")
    err = _fails(root, "--format", "image")
    assert "public.ecr.aws/lambda/python:3.12" in err and 'base = "oci:DIR"' in err


def test_auth_refused(project: MakeProject, base_layout: Path, tmp_path: Path) -> None:
    require("docker-registry")
    with run_registry(tmp_path / "locked", htpasswd=True) as locked:
        root = image_project(project, f"oci:{base_layout}:base")
        err = _fails(root, "--push", f"{locked.host}/fn/locked:v1")
        assert f"registry {locked.host} needs a login" in err
        config = tmp_path / "docker-config" / "config.json"
        config.parent.mkdir(parents=True, exist_ok=True)
        config.write_text(json.dumps({"auths": {locked.host: {"auth": "YWxpY2U6d3Jvbmc="}}}))  # alice:wrong
        err = _fails(root, "--push", f"{locked.host}/fn/locked:v1")
        assert f"registry {locked.host} refused the credentials" in err and "docker login" in err


def test_base_layer_escaping_the_root_is_refused(project: MakeProject, registry: Registry, tmp_path: Path) -> None:
    evil = make_base(tmp_path / "evil", evil=True)
    root = image_project(project, f"oci:{evil}:base")
    err = _fails(root, "--push", f"{registry.host}/fn/never-evil:v1")
    assert "'../../etc/evil'" in err and "escapes the image root" in err
    assert registry.manifest_status("fn/never-evil", "v1") == 404
    assert not (root / "dist" / "hello.oci").exists()


def test_load_without_a_daemon_is_a_clear_error(
    project: MakeProject, base_layout: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path / 'no-docker.sock'}")
    root = image_project(project, f"oci:{base_layout}:base")
    err = _fails(root, "--load")
    assert re.search(r"--load: (no Docker daemon answers|needs the docker SDK)", err), err


def test_image_options_need_an_image(project: MakeProject) -> None:
    result = lpack("build", project("hello"), "--push", "127.0.0.1:5000/fn/x:1")
    assert result.exit_code == 2
    assert "apply to images only" in result.stderr


def test_bearer_tokens_anonymous_pull_and_push_with_docker_login(
    project: MakeProject, base_layout: Path, tmp_path: Path
) -> None:
    require("docker-registry", "skopeo", "openssl")
    with (
        TokenServer(tmp_path / "tokens").serving() as tokens,
        run_registry(tmp_path / "secured", token=tokens) as secured,
    ):
        login = tmp_path / "docker-config" / "config.json"
        login.parent.mkdir(parents=True, exist_ok=True)
        login.write_text(json.dumps({"auths": {secured.host: {"auth": "YWxpY2U6c2VjcmV0"}}}))  # alice:secret
        skopeo(
            "copy", "--all", "--quiet", "--dest-tls-verify=false", "--dest-creds", TokenServer.USER,
            f"oci:{base_layout}:base", f"docker://{secured.host}/lambda/python:3.12",
        )  # fmt: skip
        login.unlink()
        root = image_project(project, f"{secured.host}/lambda/python:3.12")
        # Anonymous: the base is pulled with a pull-only token, the push is refused.
        err = _fails(root, "--push", f"{secured.host}/fn/secured:v1")
        assert f"registry {secured.host} refused the credentials" in err
        assert ("", ("repository:lambda/python:pull",)) in tokens.requests
        login.write_text(json.dumps({"auths": {f"https://{secured.host}": {"auth": "YWxpY2U6c2VjcmV0"}}}))
        image = image_of(build_json(root, "--push", f"{secured.host}/fn/secured:v1"))
        assert image["push"]["mounted"] == 1  # the mount asked for push on fn/secured and pull on lambda/python
        assert any(
            scopes == ("repository:fn/secured:pull,push", "repository:lambda/python:pull")
            for _, scopes in tokens.requests
        )


@pytest.fixture(scope="session")
def dockerd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    require("dockerd", "busybox")
    with run_dockerd(tmp_path_factory.mktemp("dockerd")) as host:
        yield host


def test_load_into_docker_and_run(
    project: MakeProject, dockerd: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    docker = pytest.importorskip("docker")
    arch, goarch = ("arm64", "arm64") if platform.machine() in ("aarch64", "arm64") else ("x86_64", "amd64")
    busybox = Path(shutil.which("busybox") or "busybox")
    base = make_base(tmp_path / "runnable", arches=(goarch,), busybox=busybox)
    root = image_project(project, f"oci:{base}:base")
    monkeypatch.setenv("DOCKER_HOST", dockerd)
    image = image_of(build_json(root, "--arch", arch, "--load"))
    assert "docker:hello:latest" in image["outputs"]
    client = docker.from_env(version="1.41")
    try:
        # The base's ENTRYPOINT runs with our CMD, as Lambda's runtime interface client would be started.
        ran = client.containers.run("hello:latest", remove=True, network_mode="none")
        assert ran.decode().strip() == f"base-{goarch} app.handler"
        listed = client.containers.run(
            "hello:latest",
            ["stat", "-c", "%a %u %n", "/var/task", "/var/task/app.py", "/var/task/lp_pure_a"],
            entrypoint="/bin/busybox",
            remove=True,
            network_mode="none",
        )
        assert listed.decode().split("\n")[:3] == [
            "755 0 /var/task",
            "644 0 /var/task/app.py",
            "755 0 /var/task/lp_pure_a",
        ]
    finally:
        client.close()


def test_output_never_replaces_a_directory_that_is_not_a_layout(
    project: MakeProject, base_layout: Path, tmp_path: Path
) -> None:
    root = image_project(project, f"oci:{base_layout}:base")
    result = lpack("build", root, "--output", f"oci:{root}")
    assert result.exit_code == 2 and "is not an OCI image layout" in result.stderr
    assert (root / "app.py").is_file()
