"""Publishing: a layer zip to S3 and PublishLayerVersion, once per content.

boto3 is the optional `publish` extra, imported only when something is published (lpack.oci.aws). The publish
target lives in lpack.publish.target and ECR in lpack.oci.ecr; their names stay importable from here.
"""

from __future__ import annotations

import base64
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lpack import runtimes
from lpack.errors import ConfigError, PublishError, SizeLimitError
from lpack.oci import aws
from lpack.oci.ecr import ecr_credentials, ensure_repository, prepare_ecr_push
from lpack.publish import s3 as _s3upload
from lpack.publish.target import PublishTarget, object_key, target_for
from lpack.staging.tree import file_sha256

if TYPE_CHECKING:
    import boto3
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_lambda.type_defs import LayerVersionsListItemTypeDef

# Names other modules import from here, as before PublishTarget and ECR moved.
__all__ = [
    "SHA256_TAG",
    "ProgressHandler",
    "PublishResult",
    "PublishTarget",
    "UploadProgress",
    "ecr_credentials",
    "ensure_repository",
    "object_key",
    "prepare_ecr_push",
    "publish_layer",
    "target_for",
    "upload_artifact",
]

# What lpack writes into a layer version's Description, so the next run can tell the content apart
# without downloading it (PublishLayerVersion makes a new version on every call: DESIGN.md).
SHA256_TAG = "lpack sha256:"
_MAX_DESCRIPTION = 256  # Lambda's limit for a layer version's Description
_ACCOUNT_RE = re.compile(r"^\d{12}$")


@dataclass(frozen=True, slots=True, kw_only=True)
class UploadProgress:
    name: str
    sent: int
    total: int


@dataclass(frozen=True, slots=True, kw_only=True)
class PublishResult:
    name: str
    layer_version_arn: str
    version: int
    sha256: str
    bucket: str | None
    key: str | None
    created: bool  # a new layer version was registered
    uploaded: bool  # bytes went to S3 in this run
    resumed_parts: int  # parts an interrupted earlier run had already uploaded
    granted: tuple[str, ...]

    @property
    def s3_uri(self) -> str | None:
        return f"s3://{self.bucket}/{self.key}" if self.bucket and self.key else None


ProgressHandler = Callable[[UploadProgress], None]


def publish_layer(
    artifact_path: Path,
    *,
    name: str,
    sha256: str,
    compatible_runtimes: tuple[str, ...],
    compatible_architectures: tuple[str, ...],
    target: PublishTarget,
    on_progress: ProgressHandler | None = None,
) -> PublishResult:
    """Upload and register a layer zip unless the layer's newest version has this content already.

    Raises PublishError (or ConfigError for bad options); nothing is registered before the upload is
    complete, and a re-run after a failure resumes the upload.
    """
    _check_inputs(artifact_path, sha256, target)
    session = aws.session(target.access)
    progress = on_progress or (lambda _p: None)
    sha256_b64 = base64.b64encode(bytes.fromhex(sha256)).decode()
    with aws.errors(f"publishing layer {name}", target.access):
        lam: LambdaClient = session.client("lambda", **aws.client_args(target.access))
        layer = _Layer(
            path=artifact_path,
            name=name,
            sha256=sha256,
            compatible_runtimes=compatible_runtimes,
            compatible_architectures=compatible_architectures,
        )
        result = _existing(lam, name, sha256, sha256_b64, target) or _upload_and_register(
            session, lam, layer, target, progress
        )
        granted = _grant(lam, name, result.version, target)
    return replace(result, granted=granted)


def _existing(
    lam: LambdaClient, name: str, sha256: str, sha256_b64: str, target: PublishTarget
) -> PublishResult | None:
    """The layer's newest version when it holds this content: then nothing is uploaded or created."""
    newest = _newest_version(lam, name)
    if newest is None or not _same_content(lam, name, newest, sha256, sha256_b64):
        return None
    return PublishResult(
        name=name,
        layer_version_arn=newest["LayerVersionArn"],
        version=newest["Version"],
        sha256=sha256,
        bucket=target.bucket,
        key=object_key(target.prefix, name, sha256) if target.bucket else None,
        created=False,
        uploaded=False,
        resumed_parts=0,
        granted=(),
    )


def _check_inputs(artifact_path: Path, sha256: str, target: PublishTarget) -> None:
    if not artifact_path.is_file():
        raise PublishError(f"{artifact_path}: no such artifact", hint="build it first: lpack build")
    actual = file_sha256(artifact_path)
    if actual != sha256:
        raise PublishError(
            f"{artifact_path.name}: sha256 is {actual[:16]}…, its build said {sha256[:16]}…: changed since",
            hint="rebuild it (lpack build) instead of publishing a file that differs from its report",
        )
    _check_zip(artifact_path)
    if target.bucket is None and artifact_path.stat().st_size >= runtimes.MAX_ZIPPED:
        raise ConfigError(
            f"{artifact_path.name}: {artifact_path.stat().st_size:,} bytes is over the 50 MB Lambda takes inline",
            hint="give an S3 bucket: --bucket or `publish = { bucket = ... }` in the layer's table",
        )
    if target.part_size < _s3upload.MIN_PART_SIZE:
        raise ConfigError(f"part size {target.part_size} is under S3's 5 MiB minimum")
    for account in target.grants:
        if not _ACCOUNT_RE.match(account):
            raise ConfigError(f'--grant "{account}" is not a 12-digit AWS account id', hint="use --public for everyone")


def _check_zip(artifact_path: Path) -> None:
    """Refuse here what Lambda would refuse after the upload: not a zip, or over 262,144,000 bytes unzipped."""
    try:
        with zipfile.ZipFile(artifact_path) as zf:
            unzipped = sum(info.file_size for info in zf.infolist())
    except (zipfile.BadZipFile, OSError) as err:
        raise PublishError(f"{artifact_path.name}: not a readable zip: {err}") from None
    if unzipped > runtimes.MAX_UNZIPPED:
        raise SizeLimitError(
            f"{artifact_path.name}: {unzipped:,} bytes unzipped; Lambda allows {runtimes.MAX_UNZIPPED:,}",
            hint="split the layer, or prune it (lpack check shows what is big)",
        )


def _newest_version(lam: LambdaClient, name: str) -> LayerVersionsListItemTypeDef | None:
    from botocore.exceptions import ClientError  # noqa: PLC0415

    try:
        versions = lam.list_layer_versions(LayerName=name).get("LayerVersions", [])
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            return None
        raise
    # Lambda lists newest first; the max does not rely on it.
    return max(versions, key=lambda v: v["Version"], default=None)


def _same_content(
    lam: LambdaClient, name: str, newest: LayerVersionsListItemTypeDef, sha256: str, sha256_b64: str
) -> bool:
    description = newest.get("Description", "")
    if SHA256_TAG in description:
        return description.split(SHA256_TAG, 1)[1].split()[0] == sha256
    # A version published by other means: Lambda's own CodeSha256 is base64 of the zip's sha256.
    content = lam.get_layer_version(LayerName=name, VersionNumber=newest["Version"]).get("Content", {})
    return content.get("CodeSha256") == sha256_b64


def _description(target: PublishTarget, sha256: str) -> str:
    tag = f"{SHA256_TAG}{sha256}"
    if not target.description:
        return tag
    room = _MAX_DESCRIPTION - len(tag) - 1
    return f"{target.description[:room]} {tag}"


@dataclass(frozen=True, slots=True, kw_only=True)
class _Layer:
    path: Path
    name: str
    sha256: str
    compatible_runtimes: tuple[str, ...]
    compatible_architectures: tuple[str, ...]


def _upload_and_register(
    session: boto3.Session, lam: LambdaClient, layer: _Layer, target: PublishTarget, progress: ProgressHandler
) -> PublishResult:
    uploaded = _s3upload.Uploaded(uploaded=False, bytes_sent=0, resumed_parts=0)
    key = None
    if target.bucket:
        key = object_key(target.prefix, layer.name, layer.sha256)
        uploaded = _upload(session, layer, key, target, progress)
        content: dict[str, Any] = {"S3Bucket": target.bucket, "S3Key": key}
    else:
        content = {"ZipFile": layer.path.read_bytes()}
    args: dict[str, Any] = {
        "LayerName": layer.name,
        "Description": _description(target, layer.sha256),
        "Content": content,
        "CompatibleRuntimes": list(layer.compatible_runtimes),
        "CompatibleArchitectures": list(layer.compatible_architectures),
    }
    if target.license:
        args["LicenseInfo"] = target.license
    # Only now, with the whole object in S3, is anything registered.
    reply = lam.publish_layer_version(**args)
    return PublishResult(
        name=layer.name,
        layer_version_arn=reply["LayerVersionArn"],
        version=reply["Version"],
        sha256=layer.sha256,
        bucket=target.bucket,
        key=key,
        created=True,
        uploaded=uploaded.uploaded,
        resumed_parts=uploaded.resumed_parts,
        granted=(),
    )


def upload_artifact(
    artifact_path: Path, *, name: str, sha256: str, target: PublishTarget, on_progress: ProgressHandler | None = None
) -> _s3upload.Uploaded:
    """Only the S3 half: put the zip at `object_key(...)` in `target.bucket`, resuming an interrupted upload."""
    _check_inputs(artifact_path, sha256, target)
    if not target.bucket:
        raise ConfigError("no bucket to upload to", hint="pass --bucket or set `publish.bucket`")
    layer = _Layer(path=artifact_path, name=name, sha256=sha256, compatible_runtimes=(), compatible_architectures=())
    key = object_key(target.prefix, name, sha256)
    return _upload(aws.session(target.access), layer, key, target, on_progress or (lambda _p: None))


def _upload(
    session: boto3.Session, layer: _Layer, key: str, target: PublishTarget, progress: ProgressHandler
) -> _s3upload.Uploaded:
    assert target.bucket is not None
    s3 = session.client("s3", **aws.client_args(target.access))
    spec = _s3upload.UploadSpec(
        bucket=target.bucket,
        key=key,
        sha256=layer.sha256,
        part_size=target.part_size,
        sse=target.sse,
        kms_key_id=target.kms_key_id,
    )

    def report(sent: int, total: int) -> None:
        progress(UploadProgress(name=layer.name, sent=sent, total=total))

    with aws.errors(f"uploading to s3://{target.bucket}/{key}", target.access):
        return _s3upload.upload(s3, layer.path, spec, report)


def _grant(lam: LambdaClient, name: str, version: int, target: PublishTarget) -> tuple[str, ...]:
    from botocore.exceptions import ClientError  # noqa: PLC0415

    principals = (["*"] if target.public else []) + list(target.grants)
    for principal in principals:
        statement = "lpack-public" if principal == "*" else f"lpack-{principal}"
        try:
            lam.add_layer_version_permission(
                LayerName=name,
                VersionNumber=version,
                StatementId=statement,
                Action="lambda:GetLayerVersion",
                Principal=principal,
            )
        except ClientError as err:
            # A re-run: the statement is there from the last one.
            if err.response.get("Error", {}).get("Code") != "ResourceConflictException":
                raise
    return tuple(principals)
