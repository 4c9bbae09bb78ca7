"""The compressed-member store of a dependency entry (lpack.pipeline.store)."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

from lpack.archive.writer import write_zip
from lpack.cache import Cache
from lpack.pipeline import store
from lpack.pipeline.entries import Entries
from lpack.staging.tree import Entry, StagingTree


def _entry(tmp_path: Path, files: dict[str, bytes]) -> tuple[Cache, Path, StagingTree]:
    cache = Cache(root=tmp_path / "cache")
    entry = tmp_path / "cache" / "deps" / "k"
    for rel, data in files.items():
        (entry / "site" / rel).parent.mkdir(parents=True, exist_ok=True)
        (entry / "site" / rel).write_bytes(data)
    tree = StagingTree.of(
        Entry(path=rel, source=entry / "site" / rel, size=len(data), executable=False, origin="deps")
        for rel, data in files.items()
    )
    return cache, entry, tree


def _fill(cache: Cache, entry: Path, tree: StagingTree, tmp_path: Path) -> None:
    artifact = tmp_path / "first.zip"
    write_zip(tree, artifact, compression="default")
    store.remember_members(cache, Entries([entry]), tree, artifact=artifact, mode="default", reused={})


def test_members_are_copied_from_the_store_this_build_saw_even_when_another_build_replaces_it(tmp_path: Path) -> None:
    files = {f"pkg/m{i}.py": (f"x = {i}\n" * 400).encode() for i in range(20)}
    cache, entry, tree = _entry(tmp_path, files)
    _fill(cache, entry, tree, tmp_path)
    with store.reusable_members(cache, Entries([entry]), tree, "default") as reuse:
        assert len(reuse) == len(files)
        # Another build of the same dependencies rewrites the store by rename while this one copies from it.
        fresh = entry / "replacement.zip"
        fresh.write_bytes(os.urandom((entry / "members-default.zip").stat().st_size))
        fresh.replace(entry / "members-default.zip")
        out = tmp_path / "second.zip"
        write_zip(tree, out, compression="default", reuse=reuse)
    with zipfile.ZipFile(out) as zf:
        assert zf.testzip() is None
        assert {n: zf.read(n) for n in zf.namelist() if not n.endswith("/")} == files
    assert sorted(p.name for p in entry.iterdir() if p.name.startswith(".members")) == []  # the link is gone


def test_a_store_that_does_not_match_its_index_is_not_used(tmp_path: Path) -> None:
    cache, entry, tree = _entry(tmp_path, {"a.py": b"a = 1\n" * 300})
    _fill(cache, entry, tree, tmp_path)
    data = bytearray((entry / "members-default.zip").read_bytes())
    data[40] ^= 0xFF
    (entry / "members-default.zip").write_bytes(bytes(data))
    with store.reusable_members(cache, Entries([entry]), tree, "default") as reuse:
        assert reuse == {}
