"""Fixtures of the tests that talk to S3 servers on 127.0.0.1 (publishing, the remote cache)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration._servers import Moto, dummy_aws_env, running_moto


@pytest.fixture(autouse=True)
def _aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every integration test: dummy AWS credentials, nothing from this machine's AWS configuration."""
    dummy_aws_env(monkeypatch)


@pytest.fixture(scope="module")
def moto_server() -> Iterator[Moto]:
    yield from running_moto()
