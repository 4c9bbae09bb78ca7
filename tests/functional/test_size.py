"""Size limits through the pipeline: an artifact over its budget fails the build with exit code 3 and is not
written; `enforce_limits=False` (what `lpack check` uses) writes it and returns the findings."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from lpack import LpackError, build, load_config
from lpack.archive.writer import OUTPUT_TAG
from lpack.cache import Cache
from lpack.errors import EXIT_TOO_BIG, SizeLimitError
from tests.conftest import MakeProject
from tests.functional.fake_uv import FakeUv


def _set_budget(root: Path, max_unzipped: int) -> None:
    config = root / "lpack.toml"
    text = re.sub(r"max-unzipped = .*", f"max-unzipped = {max_unzipped}", config.read_text())
    config.write_text(text)


def test_over_budget_fails_with_exit_code_3_and_writes_nothing(
    project: MakeProject, fake_uv: FakeUv, cache: Cache
) -> None:
    root = project("over-budget")  # [budget] max-unzipped = "2KB"
    with pytest.raises(SizeLimitError) as info:
        build(load_config(root), runner=fake_uv, cache=cache)
    err = info.value
    assert isinstance(err, LpackError) and err.exit_code == EXIT_TOO_BIG == 3
    assert "max-unzipped" in err.msg and "2,000 bytes" in err.msg
    assert err.hint is not None and "lp-pure-a" in err.hint  # names what is big
    assert not (root / "dist" / "over-budget.zip").exists()
    # No temporary file left behind either: only the tag that keeps dist/ out of later artifacts.
    assert [p.name for p in (root / "dist").rglob("*")] == [OUTPUT_TAG]


def test_check_mode_writes_the_artifact_and_returns_the_findings(
    project: MakeProject, fake_uv: FakeUv, cache: Cache
) -> None:
    root = project("over-budget")
    [fn] = build(load_config(root), runner=fake_uv, cache=cache, enforce_limits=False).functions
    assert fn.artifact.path.is_file()
    assert fn.size.over
    [finding] = fn.size.findings
    assert (finding.limit, finding.severity, finding.allowed) == ("budget-unzipped", "error", 2000)
    assert finding.actual == fn.size.unzipped_bytes > 2000


def test_at_the_budget_passes_and_one_byte_under_it_fails(project: MakeProject, fake_uv: FakeUv, cache: Cache) -> None:
    root = project("over-budget")
    [measured] = build(load_config(root), runner=fake_uv, cache=cache, enforce_limits=False).functions
    exact = measured.size.unzipped_bytes
    _set_budget(root, exact)
    [fn] = build(load_config(root), runner=fake_uv, cache=cache).functions
    assert fn.size.findings == () and fn.artifact.path.is_file()
    _set_budget(root, exact - 1)
    with pytest.raises(SizeLimitError, match=f"{exact:,} bytes"):
        build(load_config(root), runner=fake_uv, cache=cache)
