"""The S3 side of the remote cache: where objects go, and every botocore failure as Unavailable or Refused.

Layout under the URL's prefix, versioned with the local cache's layout (an older lpack never reads a newer
entry):

    <prefix>/lpack-cache-<LAYOUT>/<kind>/<key>/<variant>.json     the pointer: {"sha256", "size"} of a blob
    <prefix>/lpack-cache-<LAYOUT>/blobs/sha256/<ab>/<sha256>.zip  the entry's files, named by their digest

A blob is written before its pointer, each with one PUT (S3 shows an object whole or not at all) and, where the
server supports it, `If-None-Match: *` so the first writer wins; a reader checks the blob against the
pointer's digest and size, which do not come from the blob.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lpack.cache import LAYOUT, Kind
from lpack.config.model import RemoteSettings
from lpack.remote.pack import MAX_ENTRY_BYTES

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

POINTER_FORMAT = "lpack-cache-remote-1"
MAX_POINTER_BYTES = 4096
_SHA256 = re.compile(r"[0-9a-f]{64}")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._=+-]{0,127}")  # a key or variant: one safe path segment
_CHUNK = 1 << 20
# Fail fast: a dead server must cost seconds. Two attempts (botocore's standard mode counts the first).
CONNECT_TIMEOUT = 2.0
READ_TIMEOUT = 10.0
MAX_ATTEMPTS = 2
_MISSING = frozenset({"NoSuchKey", "404", "NotFound"})
_HINTS = {
    "NoSuchBucket": "the bucket does not exist",
    "AccessDenied": "the credentials may not read or write there",
    "InvalidAccessKeyId": "the access key is not known to the server",
    "SignatureDoesNotMatch": "the secret key does not match the access key",
    "ExpiredToken": "the session token has expired",
}


class Unavailable(Exception):
    """The store cannot be used (server, network, credentials, bucket): switch the remote off."""


class Refused(Exception):
    """One object is not what its pointer says, or not a safe entry: that entry is not installed."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Pointer:
    sha256: str
    size: int


def safe_name(text: str) -> bool:
    return bool(_NAME.fullmatch(text))


def pointer_bytes(sha256: str, size: int) -> bytes:
    return json.dumps({"format": POINTER_FORMAT, "sha256": sha256, "size": size}, sort_keys=True).encode()


def parse_pointer(data: bytes, name: str) -> Pointer:
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise Refused(f"{name} is not a pointer (not JSON)") from None
    if not isinstance(doc, dict) or doc.get("format") != POINTER_FORMAT:
        raise Refused(f"{name} is not a pointer of format {POINTER_FORMAT}")
    sha, size = doc.get("sha256"), doc.get("size")
    if not isinstance(sha, str) or not _SHA256.fullmatch(sha):
        raise Refused(f"{name} names no sha256")
    if not isinstance(size, int) or isinstance(size, bool) or not 0 < size <= MAX_ENTRY_BYTES:
        raise Refused(f"{name} gives a size outside 1 byte .. {MAX_ENTRY_BYTES} bytes")
    return Pointer(sha256=sha, size=size)


class Store:
    """One bucket and prefix through one boto3 client (thread-safe), with short timeouts and two attempts."""

    def __init__(self, settings: RemoteSettings, *, workers: int) -> None:
        self.bucket = settings.bucket
        self.base = "/".join(p for p in (settings.prefix, f"lpack-cache-{LAYOUT}") if p)
        self._s3 = _client(workers)
        self._conditional = True  # If-None-Match on PUT, until the server says it does not support it

    def pointer_key(self, kind: Kind, key: str, variant: str) -> str:
        return f"{self.base}/{kind}/{key}/{variant}.json"

    def blob_key(self, sha256: str) -> str:
        return f"{self.base}/blobs/sha256/{sha256[:2]}/{sha256}.zip"

    def read_pointer(self, kind: Kind, key: str, variant: str) -> Pointer | None:
        """The pointer for (kind, key, variant); None when the store has none."""
        name = self.pointer_key(kind, key, variant)
        with talking(f"reading {name}"):
            try:
                reply = self._s3.get_object(Bucket=self.bucket, Key=name)
            except _client_error() as err:
                if _code(err) in _MISSING:
                    return None
                raise
            data = reply["Body"].read(MAX_POINTER_BYTES + 1)
        if len(data) > MAX_POINTER_BYTES:
            raise Refused(f"{name} is too large for a pointer")
        return parse_pointer(data, name)

    def download(self, pointer: Pointer, dest: Path) -> None:
        """The blob `pointer` names into `dest`, checked against its sha256 and size; Refused on a mismatch."""
        name = self.blob_key(pointer.sha256)
        digest, count = hashlib.sha256(), 0
        with talking(f"downloading {name}"), dest.open("wb") as out:
            try:
                body = self._s3.get_object(Bucket=self.bucket, Key=name)["Body"]
            except _client_error() as err:
                if _code(err) in _MISSING:
                    raise Refused(f"{name} is missing (its pointer is there)") from None
                raise
            while count <= pointer.size and (chunk := body.read(_CHUNK)):
                digest.update(chunk)
                count += len(chunk)
                out.write(chunk)
            body.close()
        if count != pointer.size or digest.hexdigest() != pointer.sha256:
            raise Refused(f"{name} does not match its pointer (sha256 and size)")

    def put_once(self, name: str, body: Path | bytes, metadata: dict[str, str]) -> bool:
        """Create object `name` unless it exists; False when it did (another writer was first)."""
        with talking(f"writing {name}"):
            if self._conditional:
                try:
                    self._put(name, body, metadata, IfNoneMatch="*")
                    return True
                except _client_error() as err:
                    code = _code(err)
                    if code in ("PreconditionFailed", "412", "ConditionalRequestConflict", "409"):
                        return False
                    if code not in ("NotImplemented", "501"):
                        raise
                    self._conditional = False  # an older server: HEAD, then PUT the same content
            if self.exists(name):
                return False
            self._put(name, body, metadata)
            return True

    def exists(self, name: str) -> bool:
        with talking(f"looking for {name}"):
            try:
                self._s3.head_object(Bucket=self.bucket, Key=name)
            except _client_error() as err:
                if _code(err) in _MISSING:
                    return False
                raise
            return True

    def _put(self, name: str, body: Path | bytes, metadata: dict[str, str], **extra: Any) -> None:
        if isinstance(body, bytes):
            self._s3.put_object(Bucket=self.bucket, Key=name, Body=body, Metadata=metadata, **extra)
            return
        with body.open("rb") as fh:
            self._s3.put_object(Bucket=self.bucket, Key=name, Body=fh, Metadata=metadata, **extra)


def _client(workers: int) -> S3Client:
    try:
        import boto3  # noqa: PLC0415 - the optional `publish` extra
        from botocore.config import Config  # noqa: PLC0415
    except ImportError:
        raise Unavailable("boto3 is not installed: install lpack-lambda[publish] for the remote cache") from None
    options: dict[str, Any] = {
        "connect_timeout": CONNECT_TIMEOUT,
        "read_timeout": READ_TIMEOUT,
        "retries": {"mode": "standard", "max_attempts": MAX_ATTEMPTS},
        "max_pool_connections": max(10, workers),
    }
    # boto3 reads AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL itself; a server on an IP and port has no bucket
    # subdomains, so path-style addressing then.
    if os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL"):
        options["s3"] = {"addressing_style": "path"}
    with talking("connecting"):
        client: S3Client = boto3.Session().client("s3", config=Config(**options))
    return client


def _client_error() -> type[Exception]:
    from botocore.exceptions import ClientError  # noqa: PLC0415

    return ClientError


def _code(err: Exception) -> str:
    response: dict[str, Any] = getattr(err, "response", {})
    return str(response.get("Error", {}).get("Code", "")) or str(
        response.get("ResponseMetadata", {}).get("HTTPStatusCode", "")
    )


@contextlib.contextmanager
def talking(what: str) -> Iterator[None]:
    """botocore's, urllib3's and the socket's failures as Unavailable: codes and type names, never a URL."""
    from botocore import exceptions as bc  # noqa: PLC0415
    from urllib3.exceptions import HTTPError as Urllib3Error  # noqa: PLC0415

    try:
        yield
    except bc.ClientError as err:
        code = _code(err) or "error"
        hint = _HINTS.get(code)
        raise Unavailable(f"{what}: {code}" + (f" ({hint})" if hint else "")) from None
    except (bc.NoCredentialsError, bc.PartialCredentialsError):
        raise Unavailable(f"{what}: no AWS credentials found") from None
    except bc.NoRegionError:
        raise Unavailable(f"{what}: no AWS region (set AWS_REGION)") from None
    except (bc.BotoCoreError, Urllib3Error, http.client.HTTPException, OSError) as err:
        raise Unavailable(f"{what}: {type(err).__name__}") from None
