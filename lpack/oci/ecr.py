"""Amazon ECR: a registry password from GetAuthorizationToken, and the repository `--create-repository` makes."""

from __future__ import annotations

import base64
import re
from typing import Any

from lpack.config.reference import parse_reference
from lpack.errors import ConfigError, PublishError
from lpack.oci import aws

# [docs.aws.amazon.com/AmazonECR/latest/userguide/Registries.html]: ACCOUNT.dkr.ecr[-fips].REGION.amazonaws.com[.cn]
ECR_HOST = re.compile(r"^(?P<account>\d{12})\.dkr\.ecr(?:-fips)?\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$")


def is_ecr(host: str) -> bool:
    return ECR_HOST.match(host) is not None


def ecr_credentials(
    registry_host: str, *, region: str | None = None, endpoint_url: str | None = None, profile: str | None = None
) -> tuple[str, str]:
    """(user, password) for `docker login`-style basic auth to an ECR registry, from GetAuthorizationToken."""
    found = ECR_HOST.match(registry_host)
    access = aws.AwsAccess(
        region=region or (found["region"] if found else None), endpoint_url=endpoint_url, profile=profile
    )
    with aws.errors(f"getting an ECR token for {registry_host}", access):
        ecr = aws.session(access).client("ecr", **aws.client_args(access))
        args: dict[str, Any] = {"registryIds": [found["account"]]} if found else {}
        data = ecr.get_authorization_token(**args)["authorizationData"]
    if not data or "authorizationToken" not in data[0]:
        raise PublishError(f"ECR returned no token for {registry_host}")
    user, _, password = base64.b64decode(data[0]["authorizationToken"]).decode().partition(":")
    return user, password


def prepare_ecr_push(reference: str, *, profile: str | None = None, endpoint_url: str | None = None) -> str:
    """`--create-repository`: make the ECR repository a push to `reference` needs; returns its URI."""
    ref = parse_reference(reference)
    found = ECR_HOST.match(ref.host)
    if found is None:
        raise ConfigError(
            f"--create-repository: {ref.host} is not an ECR registry (ACCOUNT.dkr.ecr.REGION.amazonaws.com)",
            hint="other registries create repositories on the first push, or in their own console",
        )
    return ensure_repository(
        ref.repository, create=True, region=found["region"], endpoint_url=endpoint_url, profile=profile
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
    from botocore.exceptions import ClientError  # noqa: PLC0415 - boto3 is optional: only ECR pushes need it

    access = aws.AwsAccess(region=region, endpoint_url=endpoint_url, profile=profile)
    with aws.errors(f"ECR repository {name}", access):
        ecr = aws.session(access).client("ecr", **aws.client_args(access))
        try:
            return ecr.describe_repositories(repositoryNames=[name])["repositories"][0]["repositoryUri"]
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") != "RepositoryNotFoundException" or not create:
                raise
        return ecr.create_repository(repositoryName=name)["repository"]["repositoryUri"]
