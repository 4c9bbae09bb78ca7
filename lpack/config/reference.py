"""Image references as docker spells them: [HOST[:PORT]/]REPO[:TAG][@DIGEST]; the config checks `base` with them."""

from __future__ import annotations

import re
from dataclasses import dataclass

from lpack.errors import ConfigError

DOCKER_HUB = "registry-1.docker.io"
_DIGEST = re.compile(r"^[a-z0-9]+:[a-f0-9]{32,}$")
_REPO = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$")
_TAG = re.compile(r"^[\w][\w.-]{0,127}$")


@dataclass(frozen=True, slots=True, kw_only=True)
class Reference:
    host: str  # "127.0.0.1:5000", "public.ecr.aws", "registry-1.docker.io"
    repository: str
    tag: str | None = None
    digest: str | None = None

    @property
    def version(self) -> str:
        """What to ask the registry for: the digest when pinned, else the tag."""
        return self.digest or self.tag or "latest"

    def with_digest(self, digest: str) -> Reference:
        return Reference(host=self.host, repository=self.repository, digest=digest)

    def __str__(self) -> str:
        tail = f"@{self.digest}" if self.digest else f":{self.tag or 'latest'}"
        return f"{self.host}/{self.repository}{tail}"


def parse_reference(text: str) -> Reference:
    """Parse like docker: a first part with a dot, a colon or "localhost" is the registry host."""
    rest, _, digest = text.partition("@")
    first, slash, remainder = rest.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        host, name = first, remainder
    else:
        host, name = DOCKER_HUB, rest if "/" in rest else f"library/{rest}"
    repository, tag = name, None
    if ":" in name.rsplit("/", 1)[-1]:
        repository, _, tag = name.rpartition(":")
    bad = not _REPO.match(repository) or (tag is not None and not _TAG.match(tag))
    if bad or (digest and not _DIGEST.match(digest)):
        raise ConfigError(
            f'"{text}" is not an image reference',
            hint="write REGISTRY/REPOSITORY:TAG, e.g. 123456789012.dkr.ecr.us-east-1.amazonaws.com/my-fn:v1",
        )
    return Reference(host=host, repository=repository, tag=tag, digest=digest or None)
