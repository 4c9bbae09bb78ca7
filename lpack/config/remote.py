"""The remote cache setting: `[tool.lpack.cache]` (remote, read-only), then LPACK_CACHE_REMOTE and
LPACK_CACHE_REMOTE_READ_ONLY, then --cache-remote and --cache-read-only, each over the one before."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

from lpack.config.fields import Where, check_keys, expect, flag, table_of
from lpack.config.model import Overrides, RemoteSettings
from lpack.errors import ConfigError
from lpack.redact import redact

ENV_URL = "LPACK_CACHE_REMOTE"
ENV_READ_ONLY = "LPACK_CACHE_REMOTE_READ_ONLY"
# S3's bucket naming rules (docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html): 3-63
# characters, lower-case letters, digits, dots and hyphens, a letter or digit at each end.
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_PREFIX_PART = re.compile(r"[A-Za-z0-9!_.*'()=+,;:~-]+")
_USERINFO = re.compile(r"^([A-Za-z][\w+.-]*://)[^/]*@")
_HINT = "write it as s3://BUCKET or s3://BUCKET/PREFIX (the endpoint comes from AWS_ENDPOINT_URL_S3)"
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")


def parse_remote_url(value: str, named: str) -> str:
    """`value` as a normalized s3://bucket[/prefix]; ConfigError naming `named` (where it came from) otherwise."""
    rest = value.strip().removeprefix("s3://")
    bucket, _, prefix = rest.partition("/")
    prefix = prefix.rstrip("/")
    parts = prefix.split("/") if prefix else []
    if not value.strip().startswith("s3://"):
        problem = "is not an s3:// URL"
    elif not _BUCKET.fullmatch(bucket) or ".." in bucket:
        problem = "has no valid bucket name (3-63 lower-case letters, digits, dots, hyphens)"
    elif any(p in ("", ".", "..") or not _PREFIX_PART.fullmatch(p) for p in parts):
        problem = "has a prefix with an empty, '.' or '..' part or a character S3 keys should not hold"
    else:
        return f"s3://{bucket}/{prefix}" if prefix else f"s3://{bucket}"
    # An s3:// URL has no user part: whatever stands before an "@" may be a key, and is never shown.
    shown = redact(_USERINFO.sub(r"\1****@", value.strip()))
    raise ConfigError(f'{named}: "{shown}" {problem}', hint=_HINT)


def parse_read_only(value: str, named: str) -> bool:
    text = value.strip().lower()
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    raise ConfigError(f'{named}: "{value}" is not a yes/no value', hint=f"set {ENV_READ_ONLY}=1 or unset it")


def parse_cache_table(value: object, where: Where) -> tuple[str | None, bool | None]:
    """`[tool.lpack.cache]`: its remote URL (normalized) and read-only flag, each None when not given."""
    table = table_of(value, where, "cache", 'a table like { remote = "s3://bucket/prefix" }')
    check_keys(table, ["remote", "read-only"], where.sub("cache"))
    sub = where.sub("cache")
    url = None
    if "remote" in table:
        raw = expect(table["remote"], str, sub, "remote", "an s3://bucket/prefix URL")
        url = parse_remote_url(raw, f"{where.file.name}: [{sub.table}] remote")
    read_only = flag(table["read-only"], sub, "read-only") if "read-only" in table else None
    return url, read_only


def remote_settings(
    table: Mapping[str, object], where: Where, overrides: Overrides, env: Mapping[str, str] | None = None
) -> RemoteSettings | None:
    """The remote cache to use, config < environment < command line; None when none is named anywhere."""
    env = os.environ if env is None else env
    url, read_only = parse_cache_table(table["cache"], where) if "cache" in table else (None, None)
    if env.get(ENV_URL):
        url = parse_remote_url(env[ENV_URL], ENV_URL)
    if env.get(ENV_READ_ONLY) is not None:
        read_only = parse_read_only(env[ENV_READ_ONLY], ENV_READ_ONLY)
    if overrides.cache_remote:
        url = parse_remote_url(overrides.cache_remote, "--cache-remote")
    if overrides.cache_read_only:
        read_only = True
    return RemoteSettings(url=url, read_only=bool(read_only)) if url else None
