"""What requirements reach on this machine (lpack.resolve._local) and when uv may build (lpack.resolve._binary)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from lpack import runtimes
from lpack.config import FunctionConfig, IndexOptions
from lpack.resolve._binary import build_args, needs_building
from lpack.resolve._errors import explain_failure
from lpack.resolve._local import Reached, fingerprint, reach, read_lines, refresh_args


def _pkg(root: Path, name: str, code: str = "X = 1\n") -> Path:
    pkg = root / name
    (pkg / name).mkdir(parents=True)
    (pkg / "pyproject.toml").write_text(f'[project]\nname = "{name}"\nversion = "1"\n')
    (pkg / name / "__init__.py").write_text(code)
    return pkg


def test_includes_are_followed_at_any_depth_relative_to_their_file(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "requirements.txt").write_text("-r sub/base.txt\n--constraint=c.txt\nlp-pure-a\n")
    (tmp_path / "sub" / "more.txt").write_text("lp-pure-b\n")
    (tmp_path / "sub" / "base.txt").write_text("-rmore.txt  # the rest\n")
    (tmp_path / "c.txt").write_text("lp-pure-b<3\n")
    found = reach(read_lines(tmp_path / "requirements.txt"), tmp_path, tmp_path)
    assert set(found.files) == {tmp_path / "sub" / "base.txt", tmp_path / "sub" / "more.txt", tmp_path / "c.txt"}


def test_local_packages_by_path_editable_and_file_url_are_found_with_their_names(tmp_path: Path) -> None:
    a, b, c = _pkg(tmp_path, "pkga"), _pkg(tmp_path, "pkgb"), _pkg(tmp_path, "pkgc")
    wheel = tmp_path / "dist" / "pkgd-1.0-py3-none-any.whl"
    wheel.parent.mkdir()
    wheel.write_bytes(b"wheel")
    lines = ["./pkga", "-e pkgb", f"pkgc @ {c.as_uri()}", f"{wheel.relative_to(tmp_path)}", "lp-pure-a==1.0 \\"]
    found = reach(lines, tmp_path, tmp_path)
    assert set(found.packages) == {("pkga", a), ("pkgb", b), ("pkgc", c), ("pkgd", wheel)}
    assert refresh_args(found, lines) == [
        *("--refresh-package", "pkga"),
        *("--refresh-package", "pkgb"),
        *("--refresh-package", "pkgc"),
        *("--refresh-package", "pkgd"),
    ]


def test_a_package_with_no_readable_name_refreshes_everything(tmp_path: Path) -> None:
    (tmp_path / "setup_only").mkdir()
    (tmp_path / "setup_only" / "setup.py").write_text("")
    assert refresh_args(reach(["./setup_only"], tmp_path, tmp_path), []) == ["--refresh"]


def test_the_fingerprint_follows_code_but_not_build_droppings(tmp_path: Path) -> None:
    pkg = _pkg(tmp_path, "pkga")
    found = reach(["./pkga"], tmp_path, tmp_path)
    before = fingerprint(found)
    (pkg / "build" / "lib").mkdir(parents=True)
    (pkg / "build" / "lib" / "x.py").write_text("junk")
    (pkg / "pkga.egg-info").mkdir()
    (pkg / "pkga" / "__pycache__").mkdir()
    (pkg / "pkga" / "__pycache__" / "x.pyc").write_bytes(b"junk")
    assert fingerprint(found) == before
    (pkg / "pkga" / "__init__.py").write_text("X = 2\n")
    assert fingerprint(found) != before


def test_nothing_local_reaches_nothing(tmp_path: Path) -> None:
    lines = ["lp-pure-a==1.0 --hash=sha256:00", "--index-url https://example.invalid/simple", "pkg @ https://x/y.whl"]
    assert reach(lines, tmp_path, tmp_path) == Reached()


def test_uv_is_told_wheels_only_except_the_packages_allowed_to_build() -> None:
    assert build_args([]) == ["--only-binary", ":all:"]
    assert build_args(["b", "a"]) == ["--only-binary", ":all:", "--no-binary", "a", "--no-binary", "b"]


def test_what_uv_would_have_had_to_build_is_read_from_its_output() -> None:
    usable = "Because lp-sdist-pure==1.0 has no usable wheels and only\n   lp-sdist-pure==1.0 is available"
    assert needs_building(usable) == ("lp-sdist-pure", False)
    tag = "Because Lp_Data==2.0 has no wheels with a matching platform tag (e.g., `manylinux_2_17_x86_64`)"
    assert needs_building(tag) == ("lp-data", False)
    local = "error: Building source distributions is disabled, but attempted to build `localpkg`"
    assert needs_building(local) == ("localpkg", True)
    assert needs_building("error: something else") is None


def test_a_package_with_only_an_sdist_is_refused_with_the_opt_in_named(tmp_path: Path) -> None:
    links = tmp_path / "links"
    links.mkdir()
    (links / "lp-sdist-native-1.0.tar.gz").touch()
    fn = FunctionConfig(
        name="api",
        project_dir=tmp_path,
        runtime=runtimes.get_runtime("python3.12"),
        handler="app.handler",
        source=tmp_path,
        index=IndexOptions(find_links=(str(links),), no_index=True),
    )
    output = "Because lp-sdist-native==1.0 has no usable wheels and only lp-sdist-native==1.0 is available"
    err = explain_failure(fn, output, "requirements.in for python3.12/x86_64", "uv pip compile")
    assert "no wheel of 'lp-sdist-native' fits" in str(err) and "only a source distribution" in str(err)
    assert err.hint is not None and 'build-from-source = ["lp-sdist-native"]' in err.hint
    vouched = dataclasses.replace(fn, build_from_source=("lp-sdist-native",))
    err = explain_failure(vouched, output, "requirements.in for python3.12/x86_64", "uv pip compile")
    assert err.hint is not None and "build-from-source" not in err.hint
