"""Every uv run lpack makes is wheels-only: nothing is compiled for the build machine unless allowed."""

from __future__ import annotations

from lpack import build, load_config
from lpack.cache import Cache
from tests.conftest import MakeProject
from tests.functional.fake_uv import FakeUv


def test_lock_and_install_both_pass_only_binary_all(project: MakeProject, cache: Cache) -> None:
    runner = FakeUv()
    build(load_config(project("with-tests-dir")), runner=runner, cache=cache)
    assert [c[2] for c in runner.calls] == ["compile", "install"]
    for call in runner.calls:
        flag = call.index("--only-binary")
        assert call[flag + 1] == ":all:" and "--no-binary" not in call
