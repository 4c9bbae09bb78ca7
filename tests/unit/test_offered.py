from __future__ import annotations

from pathlib import Path

import pytest
from packaging.utils import parse_wheel_filename

from lpack import runtimes
from lpack.config.model import IndexOptions
from lpack.resolve._offered import describe, fits, offered_files
from lpack.runtimes import Arch

PY311 = runtimes.get_runtime("python3.11")  # Amazon Linux 2, glibc 2.26
PY312 = runtimes.get_runtime("python3.12")  # Amazon Linux 2023, glibc 2.34


def _links(tmp_path: Path, *names: str) -> IndexOptions:
    """A find-links directory of empty files: only the names matter. no_index keeps PyPI out of it."""
    links = tmp_path / "links"
    links.mkdir()
    for name in names:
        (links / name).touch()
    return IndexOptions(find_links=(str(links),), no_index=True)


def _describe(version: str | None, files: list[str], runtime: runtimes.Runtime = PY312, arch: Arch = "x86_64") -> str:
    summary = describe("foo", version, files, runtime, arch)
    return f"{summary.message} | {summary.hint}"


# --- offered_files ------------------------------------------------------------------------------------------


def test_offered_files_finds_the_projects_wheels_and_sdists_under_any_spelling(tmp_path: Path) -> None:
    index = _links(
        tmp_path,
        "lp_new_glibc-1.0-cp39-abi3-manylinux_2_28_x86_64.whl",
        "LP.New_Glibc-0.9-py3-none-any.whl",
        "lp-new-glibc-0.8.tar.gz",
        "lp_new_glibc-0.7.zip",
        "lp_new_glibc_extra-1.0-py3-none-any.whl",  # another project
        "lp-new-glibc-extra-1.0.tar.gz",  # another project
        "six-1.0.0-py3-none-any.whl",
        "notawheel.whl",
        "README",
    )
    assert offered_files("LP-New.Glibc", index, tmp_path) == [
        "LP.New_Glibc-0.9-py3-none-any.whl",
        "lp-new-glibc-0.8.tar.gz",
        "lp_new_glibc-0.7.zip",
        "lp_new_glibc-1.0-cp39-abi3-manylinux_2_28_x86_64.whl",
    ]


def test_offered_files_skips_missing_dirs_and_urls_without_an_index(tmp_path: Path) -> None:
    index = IndexOptions(
        find_links=(str(tmp_path / "missing"), "https://example.invalid/links/"),
        index_url="https://example.invalid/simple",
        no_index=True,
    )
    assert offered_files("foo", index, tmp_path) == []


def test_offered_files_reads_every_find_links_dir(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "foo-1.0-py3-none-any.whl").touch()
    (tmp_path / "b" / "foo-2.0-py3-none-any.whl").touch()
    index = IndexOptions(find_links=(str(tmp_path / "a"), str(tmp_path / "b")), no_index=True)
    assert offered_files("foo", index, tmp_path) == ["foo-1.0-py3-none-any.whl", "foo-2.0-py3-none-any.whl"]


# --- describe -----------------------------------------------------------------------------------------------


def test_newer_glibc_wheel_suggests_the_runtime_whose_glibc_fits(tmp_path: Path) -> None:
    files = offered_files(
        "lp-new-glibc",
        _links(
            tmp_path,
            "lp_new_glibc-1.0-cp39-abi3-manylinux_2_28_aarch64.whl",
            "lp_new_glibc-1.0-cp39-abi3-manylinux_2_28_x86_64.whl",
        ),
        tmp_path,
    )
    summary = describe("lp-new-glibc", "1.0", files, PY311, "x86_64")
    assert summary.message == "lp-new-glibc 1.0 offers wheels for manylinux_2_28_aarch64, manylinux_2_28_x86_64"
    # python3.12 is the nearest runtime on a glibc >= 2.28; the hint says why.
    assert summary.hint == 'use runtime = "python3.12" (glibc 2.34)'


def test_same_glibc_runtime_is_suggested_without_a_glibc_note() -> None:
    # cp313-only wheels: python3.13 shares python3.12's glibc, so only the version differs.
    assert _describe("1.0", ["foo-1.0-cp313-cp313-manylinux_2_17_x86_64.whl"]).endswith('| use runtime = "python3.13"')


def test_nearest_python_version_is_preferred() -> None:
    files = [
        "foo-1.0-cp311-cp311-manylinux_2_17_x86_64.whl",
        "foo-1.0-cp314-cp314-manylinux_2_17_x86_64.whl",
    ]
    # python3.11 is one minor away from python3.12, python3.14 two (and listed first).
    assert _describe("1.0", files, PY312).endswith('| use runtime = "python3.11" (glibc 2.26)')


def test_older_version_with_a_fitting_wheel_is_suggested() -> None:
    files = [
        "foo-2.0-cp312-cp312-macosx_11_0_arm64.whl",
        "foo-2.0-cp312-cp312-win_amd64.whl",
        "foo-1.5-py3-none-any.whl",
        "foo-1.8-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
        "foo-1.9-cp312-cp312-manylinux_2_17_aarch64.whl",  # wrong architecture
        "foo-2.0.tar.gz",
    ]
    text = _describe("2.0", files)
    assert text == (
        "foo 2.0 offers wheels for macosx_11_0_arm64, win_amd64 | "
        "pin version 1.8, which has a wheel for python3.12/x86_64"
    )


def test_runtime_and_version_suggestions_are_joined() -> None:
    files = [
        "foo-2.0-cp39-abi3-manylinux_2_28_x86_64.whl",
        "foo-1.0-cp39-abi3-manylinux_2_17_x86_64.whl",
    ]
    summary = describe("foo", "2.0", files, PY311, "x86_64")
    assert summary.hint == (
        'use runtime = "python3.12" (glibc 2.34); or pin version 1.0, which has a wheel for python3.11/x86_64'
    )


def test_only_a_source_distribution() -> None:
    assert _describe("1.0", ["foo-1.0.tar.gz"]) == (
        "foo 1.0 offers no wheels (only a source distribution) | "
        "pick a package that publishes manylinux wheels for x86_64"
    )


def test_nothing_offered_at_all() -> None:
    assert _describe("1.0", [], arch="arm64") == (
        "foo 1.0 offers no wheels | pick a package that publishes manylinux wheels for arm64"
    )


def test_without_a_version_every_versions_wheels_are_described() -> None:
    files = ["foo-1.0-cp39-abi3-manylinux_2_28_x86_64.whl", "foo-0.9-cp39-abi3-musllinux_1_1_x86_64.whl"]
    summary = describe("foo", None, files, PY311, "x86_64")
    assert summary.message == "foo offers wheels for manylinux_2_28_x86_64, musllinux_1_1_x86_64"


def test_pinned_version_without_files_of_its_own_suggests_one_that_has() -> None:
    # The pinned version is not offered at all (yanked, or a typo): only other versions are.
    summary = describe("foo", "3.0", ["foo-1.0-py3-none-any.whl"], PY312, "x86_64")
    assert summary.message.startswith("foo 3.0 offers no wheels")
    assert summary.hint == "pin version 1.0, which has a wheel for python3.12/x86_64"


def test_no_source_distribution_is_claimed_for_a_version_without_one() -> None:
    summary = describe("foo", "3.0", ["foo-1.0-py3-none-any.whl", "foo-1.0.tar.gz"], PY312, "x86_64")
    assert "source distribution" not in summary.message


def test_deprecated_runtimes_are_not_suggested() -> None:
    # Only python3.9 (deprecated) would fit a cp39-only wheel.
    deprecated = [r for r in runtimes.python_runtimes() if r.deprecated]
    assert "python3.9" in {r.name for r in deprecated}
    text = _describe("1.0", ["foo-1.0-cp39-cp39-manylinux_2_17_x86_64.whl"])
    assert "python3.9" not in text
    assert text.endswith("| pick a package that publishes manylinux wheels for x86_64")


def test_wheels_for_the_other_architecture_suggest_only_switching_it() -> None:
    text = _describe("1.0", ["foo-1.0-cp39-abi3-manylinux_2_17_aarch64.manylinux2014_aarch64.whl"])
    assert "python3.13" not in text
    assert 'architecture = "arm64"' in text


def test_other_architecture_is_suggested_when_no_runtime_fits_this_one() -> None:
    text = _describe("1.0", ["foo-1.0-cp39-abi3-manylinux_2_17_aarch64.manylinux2014_aarch64.whl"])
    assert 'architecture = "arm64"' in text


# --- fits ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("wheel", "runtime", "arch", "expected"),
    [
        ("foo-1.0-py3-none-any.whl", PY311, "x86_64", True),
        ("foo-1.0-cp39-abi3-manylinux_2_26_x86_64.whl", PY311, "x86_64", True),
        ("foo-1.0-cp39-abi3-manylinux_2_28_x86_64.whl", PY311, "x86_64", False),
        ("foo-1.0-cp39-abi3-manylinux_2_28_x86_64.whl", PY312, "x86_64", True),
        ("foo-1.0-cp39-abi3-manylinux_2_28_x86_64.whl", PY312, "arm64", False),
        ("foo-1.0-cp312-cp312-manylinux2014_aarch64.whl", PY312, "arm64", True),
        ("foo-1.0-cp312-cp312-musllinux_1_2_x86_64.whl", PY312, "x86_64", False),
    ],
)
def test_fits(wheel: str, runtime: runtimes.Runtime, arch: Arch, expected: bool) -> None:
    assert fits(parse_wheel_filename(wheel)[3], runtime, arch) is expected
