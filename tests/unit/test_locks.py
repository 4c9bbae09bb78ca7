"""Lock formats' shared parts: the target's marker environment, the wheel check, the requirements they render."""

from __future__ import annotations

from pathlib import Path

import pytest
from packaging.markers import Marker

from lpack import runtimes
from lpack.config.model import FunctionConfig
from lpack.errors import ConfigError, ResolveError
from lpack.resolve.committed import digest, recorded_digest
from lpack.resolve.locks import lock_format
from lpack.resolve.locks.base import Pin, check_groups, check_wheels, render, target_environment
from lpack.resolve.locks.poetry_graph import python_allows
from lpack.resolve.locks.uv import parse_requirements

NATIVE_X86 = "lp_native-1.0-cp39-abi3-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"


def _fn(tmp_path: Path, runtime: str = "python3.12", arch: runtimes.Arch = "arm64") -> FunctionConfig:
    return FunctionConfig(
        name="api",
        project_dir=tmp_path,
        runtime=runtimes.get_runtime(runtime),
        handler="app.handler",
        source=tmp_path,
        architecture=arch,
    )


def test_markers_are_evaluated_for_lambda_not_this_machine(tmp_path: Path) -> None:
    env = target_environment(_fn(tmp_path, "python3.12", "arm64"))
    assert Marker("platform_machine == 'aarch64' and sys_platform == 'linux'").evaluate(env)
    assert not Marker("python_version < '3.12'").evaluate(env)
    assert Marker("python_full_version >= '3.12' and platform_system == 'Linux'").evaluate(env)
    assert target_environment(_fn(tmp_path, "python3.9", "x86_64"))["platform_machine"] == "x86_64"


def test_lock_files_are_known_by_name() -> None:
    assert [lock_format(Path(n)) for n in ("uv.lock", "poetry.lock", "pylock.toml", "pylock.dev.toml")] == [
        "uv.lock",
        "poetry.lock",
        "pylock.toml",
        "pylock.toml",
    ]
    assert lock_format(Path("requirements.txt")) is None and lock_format(Path("pylock.txt")) is None


def test_a_wheel_for_another_machine_only_fails_naming_package_and_platforms(tmp_path: Path) -> None:
    pin = Pin(name="lp-native", version="1.0", hashes=("sha256:ab",), wheels=(NATIVE_X86,))
    with pytest.raises(
        ResolveError, match=r"'lp-native' 1\.0 .* fits python3\.12/arm64 .*manylinux_2_17_x86_64"
    ) as err:
        check_wheels(_fn(tmp_path), [pin], tmp_path / "uv.lock", "the fix")
    assert err.value.hint == "the fix"
    check_wheels(_fn(tmp_path, arch="x86_64"), [pin], tmp_path / "uv.lock", "the fix")  # fits
    sdist_only = Pin(name="x", version="1", hashes=("sha256:cd",), sdist=True)
    check_wheels(_fn(tmp_path), [sdist_only], tmp_path / "uv.lock", "the fix")  # the installer decides


def test_dev_groups_are_refused(tmp_path: Path) -> None:
    check_groups(["aws"], tmp_path / "uv.lock")
    with pytest.raises(ConfigError, match="Dev is a development group"):
        check_groups(["Dev"], tmp_path / "uv.lock")


def test_render_is_pip_tools_format_and_parses_back(tmp_path: Path) -> None:
    pins = [
        Pin(name="lp-pure-b", version="2.0", hashes=("sha256:22",)),
        Pin(name="lp-native", version="1.0", hashes=("sha256:bb", "sha256:aa")),
    ]
    text = "\n".join(render(pins, via="uv.lock")) + "\n"
    assert text == (
        "lp-native==1.0 \\\n    --hash=sha256:aa \\\n    --hash=sha256:bb\n    # via uv.lock\n"
        "lp-pure-b==2.0 \\\n    --hash=sha256:22\n    # via uv.lock\n"
    )
    parsed = parse_requirements(text, tmp_path / "uv.lock")
    assert [(str(r), h) for r, h in parsed] == [
        ("lp-native==1.0", ("sha256:aa", "sha256:bb")),
        ("lp-pure-b==2.0", ("sha256:22",)),
    ]


def test_a_path_dependency_in_an_export_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ResolveError, match="not a package from an index"):
        parse_requirements("./packages/shared\n", tmp_path / "uv.lock")


def test_inputs_digest_depends_on_target_and_inputs_only(tmp_path: Path) -> None:
    fn = _fn(tmp_path)
    assert digest(fn, "requirements", [b"a"]) == digest(_fn(tmp_path / "elsewhere"), "requirements", [b"a"])
    assert digest(fn, "requirements", [b"a"]) != digest(fn, "requirements", [b"b"])
    assert digest(fn, "requirements", [b"a"]) != digest(_fn(tmp_path, arch="x86_64"), "requirements", [b"a"])
    lock = tmp_path / "x.txt"
    lock.write_text(f"#\n# lpack-inputs: sha256:{'0' * 64}\n#\nsix==1.0\n")
    assert recorded_digest(lock) == "0" * 64
    lock.write_text("six==1.0\n")
    assert recorded_digest(lock) is None


@pytest.mark.parametrize(
    ("constraint", "python", "allowed"),
    [
        ("<3.12", "3.12.0", False),
        ("<3.12", "3.11.0", True),
        ("^3.8", "3.12.0", True),
        ("^3.8", "4.0.0", False),
        ("~3.9", "3.10.0", False),
        ("~3.9", "3.9.7", True),
        (">=3.8,<3.11", "3.12.0", False),
        (">=3.8 <3.13", "3.12.0", True),
        ("3.9 || 3.12", "3.12.0", True),
        ("3.9", "3.9.7", True),
        ("*", "3.14.0", True),
        ("^0.2", "0.3.0", False),
    ],
)
def test_poetry_python_constraints(constraint: str, python: str, allowed: bool) -> None:
    assert python_allows(constraint, python) is allowed
