from __future__ import annotations

from pathlib import Path

import pytest

from lpack.cache import Cache
from tests.functional.fake_uv import FakeUv


@pytest.fixture
def fake_uv() -> FakeUv:
    return FakeUv()


@pytest.fixture
def cache(tmp_path: Path) -> Cache:
    return Cache(root=tmp_path / "cache")
