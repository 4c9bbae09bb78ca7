"""The safe zip reader: what it finds in a listing, and that extraction never goes through a symlink."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from lpack.archive.names import ZipEntry, check_names
from lpack.archive.reader import open_zip
from lpack.errors import ArchiveError


def _zip(path: Path, files: dict[str, bytes], links: dict[str, str] | None = None) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
        for name, target in (links or {}).items():
            info = zipfile.ZipInfo(name)
            info.create_system = 3
            info.external_attr = 0o120777 << 16
            zf.writestr(info, target)
    return path


def _codes(entries: list[ZipEntry], links: dict[str, str | None]) -> list[str]:
    return [f.code for f in check_names(entries, links)]


def _link(name: str, target: str) -> ZipEntry:
    return ZipEntry(name=name, kind="symlink", size=len(target), compressed=len(target), mode=0o777)


def test_a_symlink_chain_that_climbs_out_is_found_although_each_target_looks_inside() -> None:
    links: dict[str, str | None] = {"a/b/c/s": "../../..", "l": "a/b/c/s/.."}
    entries = [_link(n, t or "") for n, t in links.items()]
    assert _codes(entries, links) == ["symlink", "symlink-outside"]


def test_a_link_to_a_sibling_is_only_a_warning() -> None:
    links: dict[str, str | None] = {"lib/libz.so": "libz.so.1"}
    found = list(check_names([_link("lib/libz.so", "libz.so.1")], links))
    assert [(f.severity, f.code) for f in found] == [("warning", "symlink")]


def test_extraction_into_a_merged_tree_replaces_an_earlier_layers_link_instead_of_following_it(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    dest = tmp_path / "opt"
    dest.mkdir()
    (dest / "victim").symlink_to(outside / "victim")
    with open_zip(_zip(tmp_path / "l.zip", {"victim": b"data"})) as safe:
        safe.extract(dest)
    assert not (dest / "victim").is_symlink()
    assert (dest / "victim").read_bytes() == b"data"
    assert not list(outside.iterdir())


def test_a_directory_behind_an_earlier_layers_link_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    dest = tmp_path / "opt"
    dest.mkdir()
    (dest / "python").symlink_to(outside)
    with open_zip(_zip(tmp_path / "l.zip", {"python/mod.py": b"x = 1\n"})) as safe, pytest.raises(ArchiveError):
        safe.extract(dest)
    assert not list(outside.iterdir())


def test_in_tree_symlinks_are_recreated_after_the_files(tmp_path: Path) -> None:
    path = _zip(tmp_path / "f.zip", {"lib/libz.so.1": b"\x7fELF"}, {"lib/libz.so": "libz.so.1"})
    with open_zip(path) as safe:
        safe.extract(tmp_path / "task")
    link = tmp_path / "task" / "lib" / "libz.so"
    assert link.is_symlink()
    assert link.read_bytes() == b"\x7fELF"


def test_members_are_read_only_up_to_the_limit(tmp_path: Path) -> None:
    with open_zip(_zip(tmp_path / "f.zip", {"big.txt": b"x" * 1000})) as safe:
        assert safe.read("big.txt", limit=10) == b""
        assert safe.read("big.txt") == b"x" * 1000
        assert safe.head("big.txt", 4) == b"xxxx"
        with pytest.raises(KeyError):
            safe.read("absent.txt")
