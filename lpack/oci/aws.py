"""boto3 for lpack: a session, client options, and botocore's errors as lpack errors with a hint.

ECR (lpack.oci.ecr) and publishing (lpack.publish: S3, Lambda) both talk to AWS; this is the lower of the two
stages, so the shared part lives here. boto3 is the optional `publish` extra, imported on first use.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lpack.errors import ConfigError, LpackError, PublishError

if TYPE_CHECKING:
    import boto3


@dataclass(frozen=True, slots=True, kw_only=True)
class AwsAccess:  # which credentials, region and endpoint a client uses
    region: str | None = None
    profile: str | None = None
    endpoint_url: str | None = None  # an S3-compatible or local server
    max_attempts: int = 8  # botocore's standard retry mode: throttling and 5xx, with backoff


def session(access: AwsAccess) -> boto3.Session:
    try:
        import boto3  # noqa: PLC0415 - the optional `publish` extra
        from botocore.exceptions import ProfileNotFound  # noqa: PLC0415
    except ImportError:
        raise ConfigError("publishing needs boto3", hint="pip install 'lpack[publish]'") from None
    try:
        return boto3.Session(profile_name=access.profile, region_name=access.region)
    except ProfileNotFound:
        raise ConfigError(f'AWS profile "{access.profile}" is not configured', hint="fix --profile") from None


def client_args(access: AwsAccess) -> dict[str, Any]:
    # Keyword arguments for `session.client(...)`: retries, and the endpoint when one is given.
    from botocore.config import Config  # noqa: PLC0415

    options: dict[str, Any] = {"retries": {"mode": "standard", "max_attempts": access.max_attempts}}
    if access.endpoint_url:
        # S3-compatible servers on an IP and port have no bucket subdomains.
        options["s3"] = {"addressing_style": "path"}
    return {"endpoint_url": access.endpoint_url, "config": Config(**options)}


RESUME_HINT = "nothing was registered; re-run: the upload resumes from the parts the server has"
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
def errors(what: str, access: AwsAccess) -> Iterator[None]:
    """botocore's exceptions as PublishError; messages carry codes and names, never credentials."""
    from botocore import exceptions as bc  # noqa: PLC0415

    where = access.endpoint_url or "AWS"
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
            RESUME_HINT if status >= 500 else "nothing was registered; fix the cause and re-run"
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
            hint=RESUME_HINT,
        ) from None
    except bc.BotoCoreError as err:
        raise PublishError(f"{what}: {err}") from None
