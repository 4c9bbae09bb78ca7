from __future__ import annotations

import dataclasses
import datetime
from pathlib import Path

import pytest

from lpack import lifecycle, load_config, runtimes
from lpack.errors import ConfigError
from lpack.runtimes import Arch


def _platforms(name: str, arch: Arch) -> tuple[str, ...]:
    return runtimes.manylinux_platforms(runtimes.get_runtime(name), arch)


def _tags(name: str, arch: Arch) -> list[str]:
    return [str(tag) for tag in runtimes.supported_tags(runtimes.get_runtime(name), arch)]


# --- table --------------------------------------------------------------------------------------------------


def test_python_runtimes_are_3_7_to_3_14_newest_first() -> None:
    names = [runtime.name for runtime in runtimes.python_runtimes()]
    assert names == [f"python3.{minor}" for minor in range(14, 6, -1)]


@pytest.mark.parametrize(
    ("name", "os"),
    [
        ("python3.7", "al1"),
        ("python3.8", "al2"),
        ("python3.9", "al2"),
        ("python3.11", "al2"),
        ("nodejs16.x", "al2"),
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
_GLIBC_MINOR = {"al1": 17, "al2": 26, "al2023": 34}


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
    # Every Python runtime runs on both, except python3.7, which predates Graviton support [foundation-arch.html].
    assert runtime.architectures == (("x86_64",) if runtime.name == "python3.7" else ("x86_64", "arm64"))
    pairs: tuple[tuple[Arch, str, str], ...] = (("x86_64", "x86_64", "aarch64"), ("arm64", "aarch64", "x86_64"))
    for arch, machine, other in pairs:
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


# --- deprecation (lambda-runtimes.html, as transcribed by cfn-lint's LmbdRuntimeLifecycle.json) ------------


def test_every_deprecated_runtime_has_ordered_block_dates() -> None:
    for runtime in runtimes.RUNTIMES.values():
        if runtime.deprecated is None:
            assert runtime.block_create is None and runtime.block_update is None, runtime.name
            continue
        assert runtime.block_create and runtime.block_update, runtime.name
        dates = [datetime.date.fromisoformat(d) for d in (runtime.block_create, runtime.block_update)]
        assert dates[0] < dates[1], runtime.name


@pytest.mark.parametrize(
    ("name", "dates"),
    [
        ("python3.8", ("2024-10-14", "2027-02-01", "2027-03-03")),
        ("python3.7", ("2023-12-04", "2024-01-09", "2027-03-03")),
        ("nodejs18.x", ("2025-09-01", "2027-02-01", "2027-03-03")),
        ("nodejs16.x", ("2024-06-12", "2027-02-01", "2027-03-03")),
    ],
)
def test_deprecated_runtimes_carry_the_dates_aws_publishes(name: str, dates: tuple[str, str, str]) -> None:
    runtime = runtimes.get_runtime(name)
    assert (runtime.deprecated, runtime.block_create, runtime.block_update) == dates


def test_the_warning_gives_the_dates_and_the_successor() -> None:
    py38 = runtimes.get_runtime("python3.8")
    text = lifecycle.lifecycle_warning(py38, datetime.date(2026, 11, 29))
    assert text is not None
    assert "deprecated since 2024-10-14" in text
    assert "new functions from 2027-02-01" in text and "updates from 2027-03-03" in text
    assert text.endswith("move to python3.14")
    later = lifecycle.lifecycle_warning(py38, datetime.date(2027, 2, 10))
    assert later is not None and "new functions since 2027-02-01" in later


def test_no_warning_for_a_supported_runtime_or_before_the_date() -> None:
    assert lifecycle.lifecycle_warning(runtimes.get_runtime("python3.12"), datetime.date(2026, 11, 29)) is None
    assert lifecycle.lifecycle_warning(runtimes.get_runtime("python3.10"), datetime.date(2026, 10, 30)) is None


def test_updates_are_blocked_from_the_block_update_date_on() -> None:
    assert lifecycle.update_blocked("python3.8", datetime.date(2027, 3, 2)) is None
    text = lifecycle.update_blocked("python3.8", datetime.date(2027, 3, 3))
    assert text is not None and "updates to existing ones since 2027-03-03" in text
    assert lifecycle.update_blocked("python3.12", datetime.date(2027, 3, 3)) is None
    assert lifecycle.update_blocked("python9.9", datetime.date(2027, 3, 3)) is None  # unknown: config says so


@pytest.mark.parametrize("name", ["python3.6", "python2.7", "nodejs12.x"])
def test_a_retired_runtime_is_refused_with_its_dates(tmp_path: Path, name: str) -> None:
    (tmp_path / "lpack.toml").write_text(f'runtime = "{name}"\nhandler = "app.handler"\n')
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path)
    assert caught.value.exit_code == 2
    deprecated, create, update = lifecycle.RETIRED[name]
    assert f"was deprecated on {deprecated}" in str(caught.value)
    assert f"since {create}" in str(caught.value) and f"since {update}" in str(caught.value)
    assert "unknown runtime" not in str(caught.value)
    assert caught.value.hint == f'use runtime = "{lifecycle.successor(name)}"'


def test_successor_is_the_newest_supported_runtime_of_the_language() -> None:
    assert lifecycle.successor("python2.7") == "python3.14"
    assert lifecycle.successor("nodejs12.x") == "nodejs24.x"


@pytest.mark.parametrize("name", ["python3.9", "nodejs18.x", "python3.8", "nodejs16.x"])
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


def test_lifecycle_checks_use_lpack_today(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "lpack.toml").write_text('runtime = "python3.9"\nhandler = "app.handler"\n')
    update = runtimes.get_runtime("python3.9").block_update
    assert update is not None
    blocked = datetime.date.fromisoformat(update)
    monkeypatch.setenv("LPACK_TODAY", (blocked - datetime.timedelta(days=1)).isoformat())
    assert load_config(tmp_path).functions[0].runtime.name == "python3.9"
    monkeypatch.setenv("LPACK_TODAY", blocked.isoformat())
    with pytest.raises(ConfigError, match=r"python3\.9 was deprecated"):
        load_config(tmp_path)
