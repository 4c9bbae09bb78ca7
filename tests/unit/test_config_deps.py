"""Which dependency file a Python function uses when the config names none (lpack.config.deps)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lpack.config import FunctionConfig, load_config
from lpack.errors import ConfigError

_CONFIG = 'runtime = "python3.12"\nhandler = "app.handler"\n'
_PYPROJECT = '[project]\nname = "x"\nversion = "1"\ndependencies = ["lp-pure-a"]\n'


def _project(tmp_path: Path, files: dict[str, str], config: str = _CONFIG) -> Path:
    (tmp_path / "lpack.toml").write_text(config)
    (tmp_path / "app.py").write_text("def handler(e, c):\n    return 1\n")
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    return tmp_path


def _fn(root: Path) -> FunctionConfig:
    return load_config(root).functions[0]


def test_a_requirements_txt_beside_the_handler_is_used_and_named(tmp_path: Path) -> None:
    fn = _fn(_project(tmp_path, {"requirements.txt": "lp-pure-a\n"}))
    assert fn.requirements == tmp_path / "requirements.txt"
    assert "requirements.txt" in fn.dependency_note and not fn.dependency_warnings
    assert "/requirements.txt" in fn.exclude  # a build input, not code


@pytest.mark.parametrize(
    ("files", "used"),
    [
        ({"requirements.in": "lp-pure-a\n"}, "requirements.in"),
        ({"pyproject.toml": '[project]\nname = "x"\nversion = "1"\ndependencies = ["lp-pure-a"]\n'}, "pyproject.toml"),
        # pip-compile's output names its input: the pair is one source, the lock.
        (
            {"requirements.in": "lp-pure-a\n", "requirements.txt": "lp-pure-a==1.0\n    # via -r requirements.in\n"},
            "requirements.txt",
        ),
        ({"src/requirements.txt": "lp-pure-a\n"}, "src/requirements.txt"),
        # Another tool's lock pins what its pyproject asks for: the pair is one source, the lock.
        ({"pyproject.toml": _PYPROJECT, "uv.lock": "version = 1\n"}, "uv.lock"),
        ({"pyproject.toml": _PYPROJECT, "poetry.lock": "[metadata]\n"}, "poetry.lock"),
        ({"pylock.toml": 'lock-version = "1.0"\n'}, "pylock.toml"),
    ],
)
def test_the_one_dependency_file_is_found(tmp_path: Path, files: dict[str, str], used: str) -> None:
    config = _CONFIG + ('source = "src"\n' if used.startswith("src/") else "")
    fn = _fn(_project(tmp_path, files, config))
    assert fn.requirements == tmp_path / used
    assert Path(used).name in fn.dependency_note


def test_a_pyproject_without_dependencies_is_no_candidate(tmp_path: Path) -> None:
    fn = _fn(_project(tmp_path, {"pyproject.toml": '[project]\nname = "x"\nversion = "1"\n'}))
    assert fn.requirements is None and not fn.dependency_note


def test_several_dependency_files_and_no_key_is_a_usage_error_listing_them(tmp_path: Path) -> None:
    root = _project(tmp_path, {"requirements.txt": "lp-pure-a\n", "requirements.in": "lp-pure-b\n"})
    with pytest.raises(ConfigError) as err:
        load_config(root)
    assert err.value.exit_code == 2
    assert "requirements.txt" in err.value.msg and "requirements.in" in err.value.msg
    assert err.value.hint and "requirements =" in err.value.hint


def test_a_file_in_the_source_and_one_in_the_project_are_two_candidates(tmp_path: Path) -> None:
    files = {"requirements.txt": "lp-pure-a\n", "src/requirements.txt": "lp-pure-b\n"}
    with pytest.raises(ConfigError, match=r"src/requirements\.txt"):
        load_config(_project(tmp_path, files, _CONFIG + 'source = "src"\n'))


def test_a_dependency_file_the_config_does_not_use_is_a_warning(tmp_path: Path) -> None:
    files = {"requirements.txt": "lp-pure-a\n", "requirements-prod.txt": "lp-pure-a\n", "requirements.in": "x\n"}
    fn = _fn(_project(tmp_path, files, _CONFIG + 'requirements = "requirements-prod.txt"\n'))
    assert fn.requirements == tmp_path / "requirements-prod.txt" and not fn.dependency_note
    warned = " ".join(fn.dependency_warnings)
    assert "requirements.txt is not used" in warned and "requirements.in is not used" in warned


def test_node_functions_are_not_looked_at(tmp_path: Path) -> None:
    config = 'runtime = "nodejs20.x"\nhandler = "index.handler"\n'
    fn = _fn(_project(tmp_path, {"requirements.txt": "lp-pure-a\n"}, config))
    assert fn.requirements is None and not fn.dependency_warnings


def test_two_tools_locks_are_a_usage_error(tmp_path: Path) -> None:
    files = {"pyproject.toml": _PYPROJECT, "uv.lock": "version = 1\n", "poetry.lock": "[metadata]\n"}
    with pytest.raises(ConfigError, match=r"uv\.lock.*poetry\.lock"):
        _fn(_project(tmp_path, files))
