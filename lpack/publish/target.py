"""Where and how a layer is published: its config's `publish` table under the command line's options."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lpack.config.model import PublishConfig
from lpack.oci.aws import AwsAccess
from lpack.publish import s3 as _s3upload


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

    @property
    def access(self) -> AwsAccess:  # what the S3 and Lambda clients use
        return AwsAccess(
            region=self.region, profile=self.profile, endpoint_url=self.endpoint_url, max_attempts=self.max_attempts
        )


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
