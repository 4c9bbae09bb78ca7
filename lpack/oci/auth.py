"""Registry credentials: ~/.docker/config.json `auths`, and ECR tokens through boto3 (lpack.oci.ecr)."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

from lpack.errors import LpackError, RegistryError
from lpack.oci.ecr import ecr_credentials, is_ecr

__all__ = ["Credentials", "credentials_for", "docker_config_path", "from_docker_config", "from_ecr", "is_ecr"]

_HUB_KEYS = ("https://index.docker.io/v1/", "index.docker.io", "docker.io", "registry-1.docker.io")

Credentials = tuple[str, str]


def docker_config_path() -> Path:
    # DOCKER_CONFIG names the directory, as the docker CLI reads it.
    return Path(os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker") / "config.json"


def _host_of(key: str) -> str:
    return key.removeprefix("https://").removeprefix("http://").split("/", 1)[0]


def from_docker_config(host: str, path: Path | None = None) -> Credentials | None:
    """`auths` entries written by `docker login` (credential helpers are not read)."""
    path = path or docker_config_path()
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    auths = data.get("auths") if isinstance(data, dict) else None
    if not isinstance(auths, dict):
        return None
    wanted = {host, *(_HUB_KEYS if host == "registry-1.docker.io" else ())}
    for key, entry in auths.items():
        if (key in wanted or _host_of(key) in wanted) and isinstance(entry, dict) and entry.get("auth"):
            user, _, password = base64.b64decode(entry["auth"]).decode().partition(":")
            return user, password
    return None


def from_ecr(host: str) -> Credentials:
    """GetAuthorizationToken: a 12-hour password for user AWS (lpack.oci.ecr, with its error messages).

    The standard AWS chain applies: credentials, profile, and AWS_ENDPOINT_URL_ECR for a local server.
    """
    try:
        return ecr_credentials(host)
    except LpackError as err:
        raise RegistryError(f"{host}: {err.msg}", hint=err.hint or "check AWS credentials") from None


def credentials_for(host: str) -> Credentials | None:
    if is_ecr(host):
        return from_docker_config(host) or from_ecr(host)
    return from_docker_config(host)
