"""Publishing: a layer zip to S3 and PublishLayerVersion, once per content; ECR credentials for a push.

boto3 is the optional `publish` extra, imported only when something is published.
"""

from __future__ import annotations

import base64
import contextlib
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lpack import runtimes
from lpack.config.load import PublishConfig
from lpack.errors import ConfigError, LpackError, PublishError, SizeLimitError
from lpack.publish import s3 as _s3upload
from lpack.staging.tree import file_sha256

if TYPE_CHECKING:
    import boto3
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_lambda.type_defs import LayerVersionsListItemTypeDef

# What lpack writes into a layer version's Description, so the next run can tell the content apart
# without downloading it (PublishLayerVersion makes a new version on every call: DESIGN.md).
SHA256_TAG = "lpack sha256:"
_MAX_DESCRIPTION = 256  # Lambda's limit for a layer version's Description
_ACCOUNT_RE = re.compile(r"^\d{12}$")
_ECR_HOST_RE = re.compile(r"^(\d{12})\.dkr\.ecr(?:-fips)?\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$")


@dataclass(frozen=True, slots=True, kw_only=True)
class PublishTarget:
    """Where and how to publish; `bucket=None` sends a small layer inline (ZipFile)."""

    bucket: str | None = None
    prefix: str = ""
    region: str | None = None
    profile: str | None = None
    endpoint_url: str | None = None  # an S3-compatible or local server
    sse: str | None = None
    kms_key_id: str | None = None
    license: str | None = None
    description: str | None = None
    public: bool = False
    grants: tuple[str, ...] = ()  # account ids given lambda:GetLayerVersion
    part_size: int = _s3upload.DEFAULT_PART_SIZE
    max_attempts: int = 8  # botocore's standard retry mode: throttling and 5xx, with backoff


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


def target_for(config: PublishConfig, **given: Any) -> PublishTarget:
    """The layer's `publish` table with the command line's values (those not None) on top."""
    values: dict[str, Any] = {
        "bucket": config.bucket,
        "prefix": config.prefix,
        "sse": config.sse,
        "kms_key_id": config.kms_key_id,
        "license": config.license,
        "description": config.description,
        "public": config.public,
        "grants": config.grants,
    }
    values.update({k: v for k, v in given.items() if v is not None and v != ()})
    if given.get("grants"):
        values["grants"] = (*config.grants, *given["grants"])
    return PublishTarget(**values)


def object_key(prefix: str, name: str, sha256: str) -> str:
    """`PREFIX/<layer-name>/<sha256>.zip`: the key names the content, so an upload is never overwritten."""
    return "/".join(p for p in (prefix.strip("/"), name, f"{sha256}.zip") if p)


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
    session = _session(target)
    progress = on_progress or (lambda _p: None)
    sha256_b64 = base64.b64encode(bytes.fromhex(sha256)).decode()
    with _aws_errors(f"publishing layer {name}", target):
        lam: LambdaClient = session.client("lambda", **_client_args(target))
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


def _session(target: PublishTarget) -> boto3.Session:
    try:
        import boto3  # noqa: PLC0415 - the optional `publish` extra
        from botocore.exceptions import ProfileNotFound  # noqa: PLC0415
    except ImportError:
        raise ConfigError("publishing needs boto3", hint="pip install 'lpack[publish]'") from None
    try:
        return boto3.Session(profile_name=target.profile, region_name=target.region)
    except ProfileNotFound:
        raise ConfigError(f'AWS profile "{target.profile}" is not configured', hint="fix --profile") from None


def _client_args(target: PublishTarget) -> dict[str, Any]:
    from botocore.config import Config  # noqa: PLC0415

    options: dict[str, Any] = {"retries": {"mode": "standard", "max_attempts": target.max_attempts}}
    if target.endpoint_url:
        # S3-compatible servers on an IP and port have no bucket subdomains.
        options["s3"] = {"addressing_style": "path"}
    return {"endpoint_url": target.endpoint_url, "config": Config(**options)}


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
    return _upload(_session(target), layer, key, target, on_progress or (lambda _p: None))


def _upload(
    session: boto3.Session, layer: _Layer, key: str, target: PublishTarget, progress: ProgressHandler
) -> _s3upload.Uploaded:
    assert target.bucket is not None
    s3 = session.client("s3", **_client_args(target))
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

    with _aws_errors(f"uploading to s3://{target.bucket}/{key}", target):
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


_RESUME_HINT = "nothing was registered; re-run: the upload resumes from the parts the server has"
_HINTS = {
    "NoSuchBucket": "create the bucket, or fix --bucket / `publish.bucket`",
    "AccessDenied": "the credentials lack a permission (s3:PutObject, s3:ListBucketMultipartUploads, "
    "lambda:PublishLayerVersion, lambda:ListLayerVersions): check the role or --profile",
    "AccessDeniedException": "the credentials lack lambda:PublishLayerVersion or lambda:ListLayerVersions",
    "InvalidAccessKeyId": "the access key is not known here: check --profile and --region",
    "SignatureDoesNotMatch": "the secret key does not match: check --profile",
    "PermanentRedirect": "the bucket is in another region: set --region to the bucket's",
    "AuthorizationHeaderMalformed": "the bucket is in another region: set --region to the bucket's",
    "IllegalLocationConstraintException": "the bucket is in another region: set --region to the bucket's",
    "TooManyRequestsException": "still throttled after retries: re-run later",
    "RepositoryNotFoundException": "create the repository, or pass --create-repository",
}


@contextlib.contextmanager
def _aws_errors(what: str, target: PublishTarget) -> Iterator[None]:
    """botocore's exceptions as PublishError; messages carry codes and names, never credentials."""
    from botocore import exceptions as bc  # noqa: PLC0415

    where = target.endpoint_url or "AWS"
    try:
        yield
    except LpackError:
        raise  # an inner step's, already in context
    except bc.ClientError as err:
        error = err.response.get("Error", {})
        code = str(error.get("Code", "error"))
        message = str(error.get("Message", "")) or code
        status = int(err.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
        hint = _HINTS.get(code) or (
            _RESUME_HINT if status >= 500 else "nothing was registered; fix the cause and re-run"
        )
        raise PublishError(f"{what}: {code}: {message}", hint=hint) from None
    except bc.NoRegionError:
        raise ConfigError(f"{what}: no AWS region", hint="pass --region or set AWS_REGION") from None
    except (bc.NoCredentialsError, bc.PartialCredentialsError):
        raise PublishError(
            f"{what}: no AWS credentials found",
            hint="use --profile, or set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or run where a role is attached",
        ) from None
    except (bc.EndpointConnectionError, bc.ConnectionClosedError, bc.ReadTimeoutError, bc.HTTPClientError) as err:
        raise PublishError(
            f"{what}: lost the connection to {where} ({type(err).__name__})",
            hint=_RESUME_HINT,
        ) from None
    except bc.BotoCoreError as err:
        raise PublishError(f"{what}: {err}") from None


def ecr_credentials(
    registry_host: str, *, region: str | None = None, endpoint_url: str | None = None, profile: str | None = None
) -> tuple[str, str]:
    """(user, password) for `docker login`-style basic auth to an ECR registry, from GetAuthorizationToken."""
    found = _ECR_HOST_RE.match(registry_host)
    target = PublishTarget(
        region=region or (found.group(2) if found else None), endpoint_url=endpoint_url, profile=profile
    )
    with _aws_errors(f"getting an ECR token for {registry_host}", target):
        ecr = _session(target).client("ecr", **_client_args(target))
        args: dict[str, Any] = {"registryIds": [found.group(1)]} if found else {}
        data = ecr.get_authorization_token(**args)["authorizationData"]
    if not data or "authorizationToken" not in data[0]:
        raise PublishError(f"ECR returned no token for {registry_host}")
    user, _, password = base64.b64decode(data[0]["authorizationToken"]).decode().partition(":")
    return user, password


def prepare_ecr_push(reference: str, *, profile: str | None = None, endpoint_url: str | None = None) -> str:
    """`--create-repository`: make the ECR repository a push to `reference` needs; returns its URI."""
    from lpack.oci.reference import parse_reference  # noqa: PLC0415 - only image pushes need it

    ref = parse_reference(reference)
    found = _ECR_HOST_RE.match(ref.host)
    if found is None:
        raise ConfigError(
            f"--create-repository: {ref.host} is not an ECR registry (ACCOUNT.dkr.ecr.REGION.amazonaws.com)",
            hint="other registries create repositories on the first push, or in their own console",
        )
    return ensure_repository(
        ref.repository, create=True, region=found.group(2), endpoint_url=endpoint_url, profile=profile
    )


def ensure_repository(
    name: str,
    *,
    create: bool,
    region: str | None = None,
    endpoint_url: str | None = None,
    profile: str | None = None,
) -> str:
    """The repository's URI; with `create`, the repository is made when missing (immutable tags off)."""
    from botocore.exceptions import ClientError  # noqa: PLC0415

    target = PublishTarget(region=region, endpoint_url=endpoint_url, profile=profile)
    with _aws_errors(f"ECR repository {name}", target):
        ecr = _session(target).client("ecr", **_client_args(target))
        try:
            return ecr.describe_repositories(repositoryNames=[name])["repositories"][0]["repositoryUri"]
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") != "RepositoryNotFoundException" or not create:
                raise
        return ecr.create_repository(repositoryName=name)["repository"]["repositoryUri"]
