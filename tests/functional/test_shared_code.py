"""`include = [{ from = "../shared", to = "shared" }]`: code from outside the function's source, under the same
rules as the source (secrets out, links inside), covered by the cache key."""

from __future__ import annotations

from pathlib import Path

import pytest

from lpack import build, load_config
from lpack.cache import Cache
from lpack.errors import LpackError
from tests.functional.fake_uv import FakeUv
from tests.functional.zips import files

_HANDLER = "def handler(event, context):\n    return 1\n"


def _project(tmp_path: Path, include: str) -> Path:
    # repo/functions/api (the function) next to repo/shared (code several functions use)
    root = tmp_path / "repo" / "functions" / "api"
    root.mkdir(parents=True)
    (root / "lpack.toml").write_text(f'runtime = "python3.12"\nhandler = "app.handler"\ninclude = {include}\n')
    (root / "app.py").write_text(_HANDLER)
    shared = tmp_path / "repo" / "shared"
    (shared / "util").mkdir(parents=True)
    (shared / "util" / "__init__.py").write_text("X = 1\n")
    (shared / "helpers.py").write_text("Y = 2\n")
    return root


def _build(root: Path, cache: Cache) -> tuple[Path, tuple[str, ...], tuple[str, ...]]:
    [fn] = build(load_config(root), runner=FakeUv(), cache=cache).functions
    return fn.artifact.path, fn.notes, fn.warnings


def test_shared_code_lands_under_the_chosen_path(tmp_path: Path, cache: Cache) -> None:
    root = _project(tmp_path, '["*.py", { from = "../../shared", to = "shared" }]')
    path, _, _ = _build(root, cache)
    found = files(path)
    assert found["shared/util/__init__.py"] == b"X = 1\n"
    assert found["shared/helpers.py"] == b"Y = 2\n"
    assert found["app.py"] == _HANDLER.encode()


def test_shared_code_at_the_root_and_a_single_file(tmp_path: Path, cache: Cache) -> None:
    include = '[{ from = "../../shared/util", to = "" }, { from = "../../shared/helpers.py", to = "lib/h.py" }]'
    root = _project(tmp_path, include)
    found = files(_build(root, cache)[0])
    assert found["__init__.py"] == b"X = 1\n"
    assert found["lib/h.py"] == b"Y = 2\n"
    assert "helpers.py" not in found


def test_secrets_in_shared_code_stay_out_and_are_named(tmp_path: Path, cache: Cache) -> None:
    root = _project(tmp_path, '[{ from = "../../shared", to = "shared" }]')
    (tmp_path / "repo" / "shared" / ".env").write_text("TOKEN=x\n")
    (tmp_path / "repo" / "shared" / "__pycache__").mkdir()
    (tmp_path / "repo" / "shared" / "__pycache__" / "helpers.cpython-312.pyc").write_bytes(b"\0")
    path, _, warnings = _build(root, cache)
    found = files(path)
    assert "shared/.env" not in found
    # The stale .pyc is noise; what is there is lpack's own, compiled for the target.
    assert found.get("shared/__pycache__/helpers.cpython-312.pyc") != b"\0"
    assert any("shared/.env" in w for w in warnings)


def test_a_link_out_of_the_shared_directory_is_refused(tmp_path: Path, cache: Cache) -> None:
    root = _project(tmp_path, '[{ from = "../../shared", to = "shared" }]')
    (tmp_path / "secret.txt").write_text("x")
    (tmp_path / "repo" / "shared" / "leak.txt").symlink_to(tmp_path / "secret.txt")
    with pytest.raises(LpackError, match=r"leak\.txt: symlink points outside"):
        _build(root, cache)
    assert not (root / "dist").exists() or not list((root / "dist").iterdir())


def test_a_change_in_shared_code_rebuilds(tmp_path: Path, cache: Cache) -> None:
    root = _project(tmp_path, '[{ from = "../../shared", to = "shared" }]')
    path, _, _ = _build(root, cache)
    assert _build(root, cache)[1][0] == "reused api.zip: no input changed"
    (tmp_path / "repo" / "shared" / "helpers.py").write_text("Y = 3\n")
    path, notes, _ = _build(root, cache)
    assert not any(n.startswith("reused") for n in notes)
    assert files(path)["shared/helpers.py"] == b"Y = 3\n"


def test_shared_code_may_not_overwrite_the_functions_files(tmp_path: Path, cache: Cache) -> None:
    root = _project(tmp_path, '[{ from = "../../shared/helpers.py", to = "app.py" }]')
    with pytest.raises(LpackError, match=r"app\.py already come from the function's own files") as caught:
        _build(root, cache)
    assert caught.value.exit_code == 2


def test_a_missing_shared_directory_is_a_config_error(tmp_path: Path, cache: Cache) -> None:
    root = _project(tmp_path, '[{ from = "../../common", to = "common" }]')
    with pytest.raises(LpackError, match="no such file or directory") as caught:
        _build(root, cache)
    assert caught.value.exit_code == 2
    assert caught.value.hint is not None and "relative to the project directory" in caught.value.hint


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ('{ from = "../../shared", to = "../up" }', 'must be a relative path inside the artifact, without ".."'),
        ('{ from = "../../shared", to = "/abs" }', "must be a relative path"),
        ('{ to = "x" }', "an include table needs `from`"),
        ('{ from = "../../shared", into = "x" }', 'unknown key; did you mean "to"?'),
        ("{ from = 3 }", "expected a path relative to the project"),
    ],
)
def test_bad_include_tables_name_the_key(tmp_path: Path, entry: str, message: str) -> None:
    root = _project(tmp_path, f"[{entry}]")
    with pytest.raises(LpackError) as caught:
        load_config(root)
    assert message in str(caught.value)
    assert str(caught.value).startswith("lpack.toml: ") and "include" in str(caught.value)


def test_a_sensitive_single_file_brought_in_by_include_is_packed_with_a_warning(tmp_path: Path, cache: Cache) -> None:
    root = _project(tmp_path, '[{ from = "../../shared/.env", to = "config/.env" }]')
    (tmp_path / "repo" / "shared" / ".env").write_text("STAGE=dev\n")
    path, _, warnings = _build(root, cache)
    assert "config/.env" in files(path)
    assert any("may hold secrets" in w and "config/.env" in w for w in warnings)
