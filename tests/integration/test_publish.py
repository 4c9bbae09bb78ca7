"""Publishing layers against real servers on 127.0.0.1: moto (S3, Lambda, ECR) and SeaweedFS (S3)."""

from __future__ import annotations

import base64
import hashlib
import importlib
import json
import os
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from lpack.cli.report import SCHEMA_PATH
from lpack.config import load_config
from lpack.errors import ConfigError, PublishError
from lpack.oci.ecr import ecr_credentials, ensure_repository, prepare_ecr_push
from lpack.publish import SHA256_TAG, PublishTarget, UploadProgress, object_key, publish_layer, upload_artifact
from tests.conftest import MakeProject
from tests.integration._helpers import lpack
from tests.integration._servers import Moto, SeaweedFS, client

SCHEMA = json.loads(SCHEMA_PATH.read_text())
MIB = 1024 * 1024
BUCKET = "lpack-layers"


@pytest.fixture
def moto(moto_server: Moto) -> Moto:
    moto_server.reset()
    client("s3", moto_server.url).create_bucket(Bucket=BUCKET)
    return moto_server


@pytest.fixture
def seaweed(tmp_path: Path) -> Iterator[SeaweedFS]:
    server = SeaweedFS(tmp_path / "weed")
    try:
        server.start()
        server.create_bucket(BUCKET)
        yield server
    finally:
        server.stop()


def _publish(root: Path, moto: Moto, *extra: str) -> dict[str, Any]:
    result = lpack("publish", "layer", "shared", root, "--endpoint-url", moto.url, "--json", *extra)
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    jsonschema.validate(data, SCHEMA)
    return data


def _versions(moto: Moto, name: str) -> list[dict[str, Any]]:
    versions: list[dict[str, Any]] = client("lambda", moto.url).list_layer_versions(LayerName=name)["LayerVersions"]
    return versions


def test_publish_twice_is_one_version_and_a_changed_file_is_a_second(project: MakeProject, moto: Moto) -> None:
    root = project("with-layers")
    first = _publish(root, moto, "--bucket", BUCKET, "--prefix", "ci/layers")["published"][0]
    sha = first["sha256"]
    assert first["created"] and first["uploaded"] and first["version"] == 1
    assert first["s3"]["key"] == f"ci/layers/shared/{sha}.zip"
    assert first["layer_version_arn"].endswith(":layer:shared:1")
    lam = client("lambda", moto.url)
    content = lam.get_layer_version(LayerName="shared", VersionNumber=1)["Content"]
    zipped = (root / "dist" / "shared-layer.zip").read_bytes()
    assert content["CodeSha256"] == base64.b64encode(hashlib.sha256(zipped).digest()).decode()
    [v1] = _versions(moto, "shared")
    assert v1["Description"] == f"{SHA256_TAG}{sha}"
    assert v1["CompatibleRuntimes"] == ["python3.12", "python3.13"]
    assert v1["CompatibleArchitectures"] == ["x86_64", "arm64"]

    again = lpack("publish", "layer", "shared", root, "--endpoint-url", moto.url, "--bucket", BUCKET)
    assert again.exit_code == 0, again.output
    assert again.stdout.strip() == first["layer_version_arn"]  # the ARN alone on stdout, for scripts
    assert "unchanged: version 1" in again.stderr
    assert len(_versions(moto, "shared")) == 1

    (root / "layer-bin" / "tool").write_text("#!/bin/sh\necho changed\n")
    second = _publish(root, moto, "--bucket", BUCKET, "--prefix", "ci/layers")["published"][0]
    assert second["created"] and second["version"] == 2 and second["sha256"] != sha
    assert len(_versions(moto, "shared")) == 2


def test_inline_publish_with_grants_is_idempotent(project: MakeProject, moto: Moto) -> None:
    root = project("with-layers")
    config = root / "lpack.toml"
    table = 'publish = { license = "MIT", description = "shared helpers", public = true, grant = ["111122223333"] }'
    config.write_text(config.read_text().replace('bin = "layer-bin"', f'bin = "layer-bin"\n{table}'))
    for round_ in (1, 2):
        data = _publish(root, moto)["published"][0]
        assert data["s3"] is None and data["version"] == 1 and data["created"] is (round_ == 1)
        assert data["granted"] == ["*", "111122223333"]
    [version] = _versions(moto, "shared")
    assert version["LicenseInfo"] == "MIT"
    assert version["Description"] == f"shared helpers {SHA256_TAG}{data['sha256']}"


def test_build_publish_publishes_every_layer(project: MakeProject, moto: Moto) -> None:
    root = project("with-layers")
    result = lpack("build", root, "--publish", "--endpoint-url", moto.url, "--bucket", BUCKET, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    jsonschema.validate(report, SCHEMA)
    assert [p["name"] for p in report["published"]] == ["shared", "pinned"]
    assert len(_versions(moto, "pinned")) == 1


def test_missing_bucket_is_an_error_and_registers_nothing(project: MakeProject, moto: Moto) -> None:
    root = project("with-layers")
    result = lpack("publish", "layer", "shared", root, "--endpoint-url", moto.url, "--bucket", "no-such-bucket")
    assert result.exit_code == 1
    assert "NoSuchBucket" in result.stderr and "hint: create the bucket" in result.stderr
    assert "testing-secret" not in result.output  # credentials never printed
    assert _versions(moto, "shared") == []
    report = lpack("publish", "layer", "shared", root, "--endpoint-url", moto.url, "--bucket", "x-bucket", "--json")
    data = json.loads(report.stdout)
    jsonschema.validate(data, SCHEMA)
    assert data["command"] == "publish" and data["error"]["exit_code"] == 1


def test_an_artifact_that_no_longer_matches_its_report_is_refused(project: MakeProject, moto: Moto) -> None:
    root = project("with-layers")
    built = lpack("build", root, "--layer", "shared", "--json")
    sha = json.loads(built.stdout)["artifacts"][0]["sha256"]
    zipped = root / "dist" / "shared-layer.zip"
    with zipfile.ZipFile(zipped, "a") as zf:
        zf.writestr("python/extra.py", "tampered = True\n")
    args = ["--artifact", zipped, "--sha256", sha, "--endpoint-url", moto.url, "--bucket", BUCKET]
    result = lpack("publish", "layer", "shared", root, *args)
    assert result.exit_code == 1 and "changed since" in result.stderr
    assert _versions(moto, "shared") == []
    assert client("s3", moto.url).list_objects_v2(Bucket=BUCKET).get("KeyCount", 0) == 0


def test_bad_options_are_usage_errors(project: MakeProject, moto: Moto, tmp_path: Path) -> None:
    root = project("with-layers")
    result = lpack("publish", "layer", "shared", root, "--endpoint-url", moto.url, "--grant", "12345")
    assert result.exit_code == 2 and "12-digit" in result.stderr
    big = _incompressible_zip(tmp_path / "big.zip", 51 * MIB)
    with pytest.raises(ConfigError, match="over the 50 MB Lambda takes inline"):
        publish_layer(big, name="big", sha256=_sha(big), **_compat(), target=PublishTarget(endpoint_url=moto.url))
    result = lpack("publish", "layer", "shared", root, "--endpoint-url", moto.url, "--profile", "nope")
    assert result.exit_code == 2 and 'profile "nope"' in result.stderr
    huge = tmp_path / "huge.zip"
    with zipfile.ZipFile(huge, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        zf.writestr("python/zeros.bin", bytes(262_144_001))  # deflates to a few hundred kB
    result = lpack("publish", "layer", "shared", root, "--artifact", huge, "--endpoint-url", moto.url)
    assert result.exit_code == 3 and "262,144,001 bytes unzipped" in result.stderr
    assert _versions(moto, "shared") == []


def test_publish_config_table_is_checked(project: MakeProject) -> None:
    root = project("with-layers")
    config = root / "lpack.toml"
    text = config.read_text()
    table = 'publish = { bucket = "b", prefix = "p", sse = "aws:kms", kms-key-id = "alias/k" }'
    config.write_text(text.replace('bin = "layer-bin"', f'bin = "layer-bin"\n{table}'))
    shared = load_config(root).layers[0].publish
    assert (shared.bucket, shared.prefix, shared.sse, shared.kms_key_id) == ("b", "p", "aws:kms", "alias/k")
    config.write_text(text.replace('bin = "layer-bin"', 'bin = "layer-bin"\npublish = { buckett = "b" }'))
    with pytest.raises(ConfigError, match=r'\[layers\.shared\.publish\] buckett: unknown key; did you mean "bucket"'):
        load_config(root)
    config.write_text(text.replace('bin = "layer-bin"', 'bin = "layer-bin"\npublish = { sse = "kms" }'))
    with pytest.raises(ConfigError, match=r'"kms" is not one of AES256, aws:kms'):
        load_config(root)
    config.write_text(text.replace('handler = "app.handler"', 'handler = "app.handler"\npublish = { bucket = "b" }'))
    with pytest.raises(ConfigError, match=r"\[functions\.api\] publish: not a key for a function"):
        load_config(root)


def test_sse_is_passed_through(tmp_path: Path, moto: Moto) -> None:
    zipped = _incompressible_zip(tmp_path / "layer.zip", 1024)
    target = PublishTarget(endpoint_url=moto.url, bucket=BUCKET, sse="AES256")
    upload_artifact(zipped, name="enc", sha256=_sha(zipped), target=target)
    head = client("s3", moto.url).head_object(Bucket=BUCKET, Key=object_key("", "enc", _sha(zipped)))
    assert head["ServerSideEncryption"] == "AES256"


def test_ecr_credentials_and_repository(moto: Moto) -> None:
    with pytest.raises(PublishError, match="RepositoryNotFoundException"):
        ensure_repository("fn-images", create=False, endpoint_url=moto.url)
    uri = ensure_repository("fn-images", create=True, endpoint_url=moto.url)
    assert uri.endswith("/fn-images")
    assert ensure_repository("fn-images", create=True, endpoint_url=moto.url) == uri
    host = uri.split("/", 1)[0]
    user, password = ecr_credentials(host, endpoint_url=moto.url)
    assert user == "AWS" and password


def test_image_push_auth_and_create_repository_through_the_standard_chain(
    moto: Moto, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lpack.oci.auth import from_ecr  # noqa: PLC0415

    host = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
    monkeypatch.setenv("AWS_ENDPOINT_URL_ECR", moto.url)  # botocore's per-service endpoint variable
    assert prepare_ecr_push(f"{host}/team/fn:v1") == f"{host}/team/fn"
    assert client("ecr", moto.url).describe_repositories()["repositories"][0]["repositoryName"] == "team/fn"
    user, password = from_ecr(host)
    assert user == "AWS" and password
    with pytest.raises(ConfigError, match="not an ECR registry"):
        prepare_ecr_push("127.0.0.1:5000/fn:v1")


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _compat() -> dict[str, Any]:
    return {"compatible_runtimes": ("python3.12",), "compatible_architectures": ("x86_64",)}


def _incompressible_zip(path: Path, size: int) -> Path:
    # Random bytes, stored: the zip is as big as its content, so parts are really sent.
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr("python/blob.bin", os.urandom(size))
    return path


def _stopping_after(parts: int, stop: Any) -> Any:
    def on_progress(progress: UploadProgress) -> None:
        if progress.sent >= parts * 5 * MIB and progress.sent < progress.total:
            stop()

    return on_progress


def test_multipart_upload_to_seaweedfs_resumes_after_the_server_stops(tmp_path: Path, seaweed: SeaweedFS) -> None:
    zipped = _incompressible_zip(tmp_path / "big-layer.zip", 20 * MIB)
    sha = _sha(zipped)
    target = PublishTarget(endpoint_url=seaweed.url, bucket=BUCKET, prefix="layers", part_size=5 * MIB, max_attempts=2)
    # Parts in flight when the server stops fail as a dropped connection or as its 500 while shutting down.
    with pytest.raises(PublishError, match=r"lost the connection|InternalError") as caught:
        upload_artifact(zipped, name="big", sha256=sha, target=target, on_progress=_stopping_after(1, seaweed.stop))
    assert "re-run" in (caught.value.hint or "")
    seaweed.start()
    done = upload_artifact(zipped, name="big", sha256=sha, target=target)
    assert done.uploaded and done.resumed_parts >= 1
    assert done.bytes_sent < zipped.stat().st_size  # the parts the server kept were not sent again
    s3 = client("s3", seaweed.url)
    body = s3.get_object(Bucket=BUCKET, Key=f"layers/big/{sha}.zip")["Body"].read()
    assert hashlib.sha256(body).hexdigest() == sha
    assert s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []
    assert not upload_artifact(zipped, name="big", sha256=sha, target=target).uploaded  # there: skipped


def test_moto_stopped_mid_upload_then_rerun_is_one_version(tmp_path: Path, moto: Moto) -> None:
    zipped = _incompressible_zip(tmp_path / "big-layer.zip", 20 * MIB)
    sha = _sha(zipped)
    target = PublishTarget(endpoint_url=moto.url, bucket=BUCKET, part_size=5 * MIB, max_attempts=2)
    with pytest.raises(PublishError, match="lost the connection"):
        publish_layer(
            zipped, name="big", sha256=sha, **_compat(), target=target, on_progress=_stopping_after(2, moto.stop)
        )
    moto.start()
    assert _versions(moto, "big") == []  # nothing half-registered
    done = publish_layer(zipped, name="big", sha256=sha, **_compat(), target=target)
    assert done.created and done.resumed_parts >= 1 and done.version == 1
    again = publish_layer(zipped, name="big", sha256=sha, **_compat(), target=target)
    assert not again.created and again.layer_version_arn == done.layer_version_arn
    assert len(_versions(moto, "big")) == 1


def test_publish_names_stay_importable_where_they_were() -> None:
    layers = importlib.import_module("lpack.publish.layers")
    assert layers.prepare_ecr_push is prepare_ecr_push and layers.ecr_credentials is ecr_credentials
    assert layers.ensure_repository is ensure_repository and layers.PublishTarget is PublishTarget
    for name in ("PublishResult", "UploadProgress", "ProgressHandler", "publish_layer", "target_for", "object_key"):
        assert hasattr(layers, name), name
