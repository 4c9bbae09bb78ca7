from __future__ import annotations

import dataclasses
import datetime
from pathlib import Path

import pytest

from lpack import load_config, runtimes
from lpack.runtimes import Arch


def _platforms(name: str, arch: Arch) -> tuple[str, ...]:
    return runtimes.manylinux_platforms(runtimes.get_runtime(name), arch)


def _tags(name: str, arch: Arch) -> list[str]:
    return [str(tag) for tag in runtimes.supported_tags(runtimes.get_runtime(name), arch)]


# --- table --------------------------------------------------------------------------------------------------


def test_python_runtimes_are_3_9_to_3_14_newest_first() -> None:
    names = [runtime.name for runtime in runtimes.python_runtimes()]
    assert names == ["python3.14", "python3.13", "python3.12", "python3.11", "python3.10", "python3.9"]


@pytest.mark.parametrize(
    ("name", "os"),
    [
        ("python3.9", "al2"),
        ("python3.11", "al2"),
        ("python3.12", "al2023"),
        ("python3.14", "al2023"),
        ("nodejs18.x", "al2"),
        ("nodejs20.x", "al2023"),
        ("nodejs24.x", "al2023"),
        ("provided.al2", "al2"),
        ("provided.al2023", "al2023"),
    ],
)
def test_runtime_os(name: str, os: str) -> None:
    assert runtimes.get_runtime(name).os == os


# glibc per Lambda OS, from AWS (DESIGN.md): AL2 2.26, AL2023 2.34. Checked through what the table is for, the
# wheels a build may install, so a wrong entry or a wrong derivation fails here.
_GLIBC_MINOR = {"al2": 26, "al2023": 34}


@pytest.mark.parametrize("runtime", runtimes.python_runtimes(), ids=lambda r: r.name)
@pytest.mark.parametrize("arch", ["x86_64", "arm64"])
def test_wheels_install_up_to_the_glibc_of_the_runtimes_os_and_no_further(
    runtime: runtimes.Runtime, arch: Arch
) -> None:
    machine, minor = runtimes.machine_name(arch), _GLIBC_MINOR[runtime.os]
    tags = {str(t) for t in runtimes.supported_tags(runtime, arch)}
    assert f"py3-none-manylinux_2_{minor}_{machine}" in tags
    assert f"py3-none-manylinux_2_{minor + 1}_{machine}" not in tags
    # pip's --platform list starts at that glibc: pip would otherwise fetch a wheel the runtime cannot load.
    assert runtimes.manylinux_platforms(runtime, arch)[0] == f"manylinux_2_{minor}_{machine}"
    # uv is never told a newer glibc than the OS has (it knows 2_17 and 2_28 ..; AL2 gets 2_17).
    uv_minor = int(runtimes.uv_platform(runtime, arch).rsplit("_", 1)[1])
    assert uv_minor <= minor


@pytest.mark.parametrize("runtime", runtimes.python_runtimes(), ids=lambda r: r.name)
def test_every_python_runtime_targets_each_architecture_with_that_machines_wheels_only(
    runtime: runtimes.Runtime,
) -> None:
    for arch, machine, other in (("x86_64", "x86_64", "aarch64"), ("arm64", "aarch64", "x86_64")):
        assert arch in runtime.architectures
        platforms = runtimes.manylinux_platforms(runtime, arch)
        assert platforms and all(p.endswith(f"_{machine}") for p in platforms)
        assert runtimes.uv_platform(runtime, arch).startswith(f"{machine}-")
        assert not [t for t in runtimes.supported_tags(runtime, arch) if other in t.platform]


def test_deprecated_is_an_iso_date_in_the_past() -> None:
    # `deprecated` marks runtimes AWS has already deprecated; scheduled dates stay in comments.
    checked_on = datetime.date(2026, 11, 23)
    for runtime in runtimes.RUNTIMES.values():
        if runtime.deprecated is not None:
            assert datetime.date.fromisoformat(runtime.deprecated) <= checked_on, runtime.name


@pytest.mark.parametrize("name", ["python3.9", "nodejs18.x"])
def test_a_deprecated_runtime_still_loads_in_a_project(tmp_path: Path, name: str) -> None:
    # Lambda still accepts updates to functions on deprecated runtimes: lpack builds them, it does not refuse.
    assert runtimes.get_runtime(name).deprecated is not None
    (tmp_path / "lpack.toml").write_text(f'runtime = "{name}"\nhandler = "app.handler"\n')
    [fn] = load_config(tmp_path).functions
    assert fn.runtime.name == name


def test_versions() -> None:
    assert runtimes.get_runtime("python3.12").version == (3, 12)
    assert runtimes.get_runtime("nodejs20.x").version == (20, 0)
    assert runtimes.get_runtime("provided.al2023").version is None


def test_layer_paths() -> None:
    assert runtimes.get_runtime("python3.12").layer_paths == ("python", "python/lib/python3.12/site-packages")
    assert runtimes.get_runtime("nodejs20.x").layer_paths == (
        "nodejs/node_modules",
        "nodejs/node20/node_modules",
    )
    assert runtimes.get_runtime("provided.al2").layer_paths == ()


def test_base_images() -> None:
    assert runtimes.get_runtime("python3.12").base_image == "public.ecr.aws/lambda/python:3.12"
    assert runtimes.get_runtime("nodejs22.x").base_image == "public.ecr.aws/lambda/nodejs:22"
    assert runtimes.get_runtime("provided.al2023").base_image == "public.ecr.aws/lambda/provided:al2023"


def test_python_tag() -> None:
    assert runtimes.get_runtime("python3.12").python_tag == "cp312"
    assert runtimes.get_runtime("python3.9").python_tag == "cp39"
    with pytest.raises(ValueError, match=r"nodejs20\.x"):
        _ = runtimes.get_runtime("nodejs20.x").python_tag


def test_unknown_runtime_raises_plain_key_error() -> None:
    with pytest.raises(KeyError) as info:
        runtimes.get_runtime("python3.99")
    assert info.value.args == ("python3.99",)


def test_table_is_read_only() -> None:
    with pytest.raises(TypeError):
        runtimes.RUNTIMES["python3.99"] = runtimes.get_runtime("python3.12")  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        runtimes.get_runtime("python3.12").os = "al2"  # type: ignore[misc]


def test_machine_name() -> None:
    assert runtimes.machine_name("x86_64") == "x86_64"
    assert runtimes.machine_name("arm64") == "aarch64"


# --- pip platforms ------------------------------------------------------------------------------------------


def test_al2_x86_64_platforms_stop_at_glibc_2_26() -> None:
    platforms = _platforms("python3.11", "x86_64")
    assert platforms[0] == "manylinux_2_26_x86_64"
    assert "manylinux2014_x86_64" in platforms
    assert "manylinux_2_27_x86_64" not in platforms
    assert "manylinux_2_28_x86_64" not in platforms


def test_al2_x86_64_platforms_list_every_minor_with_aliases_after_their_twins() -> None:
    expected: list[str] = []
    for minor in range(26, 4, -1):
        expected.append(f"manylinux_2_{minor}_x86_64")
        alias = {17: "manylinux2014", 12: "manylinux2010", 5: "manylinux1"}.get(minor)
        if alias:
            expected.append(f"{alias}_x86_64")
    assert list(_platforms("python3.10", "x86_64")) == expected
    assert expected[-2:] == ["manylinux_2_5_x86_64", "manylinux1_x86_64"]


def test_al2023_arm64_platforms_start_at_2_34_and_stop_at_manylinux2014() -> None:
    platforms = _platforms("python3.12", "arm64")
    assert platforms[0] == "manylinux_2_34_aarch64"
    assert platforms[-2:] == ("manylinux_2_17_aarch64", "manylinux2014_aarch64")
    assert len(platforms) == (34 - 17 + 1) + 1
    assert "manylinux1_aarch64" not in platforms
    assert "manylinux2010_aarch64" not in platforms
    assert not [p for p in platforms if "musllinux" in p or "x86_64" in p]


def test_al2023_x86_64_platforms_reach_down_to_manylinux1() -> None:
    platforms = _platforms("python3.13", "x86_64")
    assert platforms[0] == "manylinux_2_34_x86_64"
    assert platforms[-1] == "manylinux1_x86_64"


# --- uv -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "arch", "expected"),
    [
        ("python3.11", "x86_64", "x86_64-manylinux_2_17"),
        ("python3.9", "arm64", "aarch64-manylinux_2_17"),
        ("python3.12", "x86_64", "x86_64-manylinux_2_34"),
        ("python3.14", "arm64", "aarch64-manylinux_2_34"),
    ],
)
def test_uv_platform(name: str, arch: Arch, expected: str) -> None:
    assert runtimes.uv_platform(runtimes.get_runtime(name), arch) == expected


def test_uv_platform_is_never_the_unknown_linux_gnu_shorthand() -> None:
    for runtime in runtimes.RUNTIMES.values():
        for arch in runtime.architectures:
            assert "unknown-linux-gnu" not in runtimes.uv_platform(runtime, arch)


# --- wheel tags ---------------------------------------------------------------------------------------------


def test_supported_tags_for_python3_12_arm64() -> None:
    tags = _tags("python3.12", "arm64")
    assert tags[0] == "cp312-cp312-manylinux_2_34_aarch64"
    assert "cp312-abi3-manylinux_2_17_aarch64" in tags
    assert "cp311-abi3-manylinux2014_aarch64" in tags
    assert "py3-none-manylinux_2_34_aarch64" in tags
    assert "py3-none-any" in tags
    assert not [tag for tag in tags if "x86_64" in tag or "musllinux" in tag]
    assert tags.index("cp312-cp312-manylinux2014_aarch64") < tags.index("py3-none-any")


def test_supported_tags_for_al2_exclude_newer_glibc() -> None:
    tags = _tags("python3.11", "x86_64")
    assert "cp311-cp311-manylinux_2_26_x86_64" in tags
    assert "cp311-cp311-manylinux1_x86_64" in tags
    assert "cp311-cp311-manylinux_2_28_x86_64" not in tags
    assert not [tag for tag in tags if tag.startswith("cp312")]


def test_supported_tags_refuses_non_python_runtimes() -> None:
    with pytest.raises(ValueError, match=r"provided\.al2023"):
        runtimes.supported_tags(runtimes.get_runtime("provided.al2023"), "x86_64")
