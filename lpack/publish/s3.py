"""Content-addressed S3 upload: skip what is there, resume a multipart upload a previous run left."""

from __future__ import annotations

import base64
import hashlib
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import CompletedPartTypeDef

# S3's smallest part (all but the last) is 5 MiB; 8 MiB is what boto3's TransferConfig uses.
MIN_PART_SIZE = 5 * 1024 * 1024
DEFAULT_PART_SIZE = 8 * 1024 * 1024
SHA256_METADATA = "lpack-sha256"  # x-amz-meta-lpack-sha256: the content the key was written from

Progress = Callable[[int, int], None]  # (bytes sent, total)


@dataclass(frozen=True, slots=True, kw_only=True)
class UploadSpec:
    bucket: str
    key: str
    sha256: str
    part_size: int = DEFAULT_PART_SIZE
    concurrency: int = 4
    sse: str | None = None  # "AES256" or "aws:kms"
    kms_key_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Uploaded:
    uploaded: bool  # False: the object was already there with this content
    bytes_sent: int
    resumed_parts: int  # parts a previous, interrupted run had already sent


def upload(s3: S3Client, path: Path, spec: UploadSpec, on_progress: Progress) -> Uploaded:
    """Put `path` at `spec.key` unless an object with its size and sha256 is there already."""
    size = path.stat().st_size
    if _present(s3, spec, size):
        on_progress(size, size)
        return Uploaded(uploaded=False, bytes_sent=0, resumed_parts=0)
    if size <= spec.part_size:
        extra = _put_args(spec)
        with path.open("rb") as fh:
            s3.put_object(Bucket=spec.bucket, Key=spec.key, Body=fh, ContentMD5=_md5_of(path), **extra)
        on_progress(size, size)
        return Uploaded(uploaded=True, bytes_sent=size, resumed_parts=0)
    return _multipart(s3, path, spec, size, on_progress)


def _present(s3: S3Client, spec: UploadSpec, size: int) -> bool:
    from botocore.exceptions import ClientError  # noqa: PLC0415 - boto3 is the optional `publish` extra

    try:
        head = s3.head_object(Bucket=spec.bucket, Key=spec.key)
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return False
        raise
    # The key names the content, but an object another tool wrote there, or a torn write, must not count.
    return head["ContentLength"] == size and head.get("Metadata", {}).get(SHA256_METADATA) == spec.sha256


def _put_args(spec: UploadSpec) -> dict[str, Any]:
    args: dict[str, Any] = {"Metadata": {SHA256_METADATA: spec.sha256}}
    if spec.sse:
        args["ServerSideEncryption"] = spec.sse
    if spec.kms_key_id:
        args["SSEKMSKeyId"] = spec.kms_key_id
    return args


def _md5_of(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return base64.b64encode(digest.digest()).decode()


class _Tally:
    """Bytes done across the part threads, reported in order under one lock."""

    def __init__(self, total: int, on_progress: Progress) -> None:
        self.total = total
        self.done = self.sent = self.resumed = 0
        self._on_progress = on_progress
        self._lock = threading.Lock()

    def add(self, size: int, *, resumed: bool) -> None:
        with self._lock:
            self.done += size
            self.resumed += resumed
            self.sent += 0 if resumed else size
            self._on_progress(self.done, self.total)


def _multipart(s3: S3Client, path: Path, spec: UploadSpec, size: int, on_progress: Progress) -> Uploaded:
    # SSE and KMS are set when the upload is created; the parts carry nothing more (only SSE-C would).
    upload_id, done = _resume_or_start(s3, spec)
    tally = _Tally(size, on_progress)

    def send(number: int) -> CompletedPartTypeDef:
        etag = _part(s3, path, spec, upload_id=upload_id, number=number, etag=done.get(number), tally=tally)
        return {"PartNumber": number, "ETag": etag}

    # A few parts in flight, as boto3's transfer manager does; memory stays at concurrency x part size.
    with ThreadPoolExecutor(max_workers=spec.concurrency) as pool:
        futures = [pool.submit(send, n) for n in range(1, -(-size // spec.part_size) + 1)]
        try:
            parts = [f.result() for f in futures]
        except BaseException:
            for future in futures:
                future.cancel()  # the first failure ends the run; the parts already sent stay for a re-run
            raise
    s3.complete_multipart_upload(Bucket=spec.bucket, Key=spec.key, UploadId=upload_id, MultipartUpload={"Parts": parts})
    return Uploaded(uploaded=True, bytes_sent=tally.sent, resumed_parts=tally.resumed)


def _part(
    s3: S3Client, path: Path, spec: UploadSpec, *, upload_id: str, number: int, etag: str | None, tally: _Tally
) -> str:
    with path.open("rb") as fh:
        fh.seek((number - 1) * spec.part_size)
        data = fh.read(spec.part_size)
    md5 = hashlib.md5(data, usedforsecurity=False)
    if etag is not None and etag.strip('"') == md5.hexdigest():
        tally.add(len(data), resumed=True)  # this part reached the server before the last run stopped
        return etag
    reply = s3.upload_part(
        Bucket=spec.bucket,
        Key=spec.key,
        UploadId=upload_id,
        PartNumber=number,
        Body=data,
        ContentMD5=base64.b64encode(md5.digest()).decode(),
    )
    tally.add(len(data), resumed=False)
    return reply["ETag"]


def _resume_or_start(s3: S3Client, spec: UploadSpec) -> tuple[str, dict[int, str]]:
    """An unfinished upload of this key (the key names the content, so its parts are ours), or a new one."""
    pending = s3.list_multipart_uploads(Bucket=spec.bucket, Prefix=spec.key).get("Uploads", [])
    ours = sorted((u for u in pending if u.get("Key") == spec.key), key=lambda u: str(u.get("Initiated", "")))
    if ours:
        upload_id = ours[-1]["UploadId"]
        parts = _parts_of(s3, spec, upload_id)
        if parts is not None:
            return upload_id, parts
    created = s3.create_multipart_upload(Bucket=spec.bucket, Key=spec.key, **_put_args(spec))
    return created["UploadId"], {}


def _parts_of(s3: S3Client, spec: UploadSpec, upload_id: str) -> dict[int, str] | None:
    """The parts of a pending upload; None when it was aborted or expired since it was listed."""
    from botocore.exceptions import ClientError  # noqa: PLC0415

    found: dict[int, str] = {}
    paginator = s3.get_paginator("list_parts")
    try:
        for page in paginator.paginate(Bucket=spec.bucket, Key=spec.key, UploadId=upload_id):
            for part in page.get("Parts", []):
                found[part["PartNumber"]] = part["ETag"]
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") == "NoSuchUpload":
            return None
        raise
    return found
