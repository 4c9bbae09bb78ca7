"""Publishing: layer zips to S3 and PublishLayerVersion."""

from __future__ import annotations

from lpack.publish.layers import (
    SHA256_TAG,
    ProgressHandler,
    PublishResult,
    UploadProgress,
    publish_layer,
    upload_artifact,
)
from lpack.publish.target import PublishTarget, object_key, target_for

__all__ = [
    "SHA256_TAG",
    "ProgressHandler",
    "PublishResult",
    "PublishTarget",
    "UploadProgress",
    "object_key",
    "publish_layer",
    "target_for",
    "upload_artifact",
]
