from __future__ import annotations

import multiprocessing
import pickle
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from lpack.cache import Cache, default_root, make_key, read_sealed, seal, unseal, write_sealed
from lpack.pipeline import reuse as _reuse


def test_default_root_follows_lpack_cache_dir_then_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LPACK_CACHE_DIR", str(tmp_path / "mine"))
    assert default_root() == tmp_path / "mine"
    monkeypatch.delenv("LPACK_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setattr("sys.platform", "linux")
    assert default_root() == tmp_path / "xdg" / "lpack"


def test_keys_separate_their_parts() -> None:
    assert make_key("ab", "c") != make_key("a", "bc")
    assert make_key("a", b"b") == make_key("a", "b")
    assert len(make_key()) == 64


def test_obtain_makes_an_entry_once_and_then_finds_it(tmp_path: Path) -> None:
    cache = Cache(root=tmp_path / "c")
    calls: list[Path] = []

    def make(entry: Path) -> None:
        calls.append(entry)
        (entry / "f").write_text("x")

    first, hit_first = cache.obtain("deps", "k", make)
    second, hit_second = cache.obtain("deps", "k", make)
    assert (hit_first, hit_second) == (False, True)
    assert first == second == cache.path("deps", "k")
    assert (first / "f").read_text() == "x"
    assert len(calls) == 1
    assert calls[0] != first  # made elsewhere, then renamed into place
    assert list((tmp_path / "c" / "tmp").iterdir()) == []


def test_a_failed_make_leaves_no_entry(tmp_path: Path) -> None:
    cache = Cache(root=tmp_path)

    def fail(entry: Path) -> None:
        (entry / "half").write_text("x")
        raise RuntimeError("install failed")

    with pytest.raises(RuntimeError):
        cache.obtain("deps", "k", fail)
    assert cache.get("deps", "k") is None
    assert list((tmp_path / "tmp").iterdir()) == []


def _slow_make(root: str, log: str) -> None:
    def make(entry: Path) -> None:
        with Path(log).open("a") as fh:
            fh.write("made\n")
        time.sleep(0.5)  # long enough that the other process arrives while this one works
        for i in range(50):
            (entry / f"file{i}").write_text(str(i))

    entry, _ = Cache(root=Path(root)).obtain("deps", "shared", make)
    assert sorted(p.name for p in entry.iterdir()) == sorted(f"file{i}" for i in range(50))


def test_two_processes_obtaining_one_key_make_it_once(tmp_path: Path) -> None:
    log = tmp_path / "log"
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_slow_make, args=(str(tmp_path / "c"), str(log))) for _ in range(2)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(60)
    assert [p.exitcode for p in procs] == [0, 0]
    assert log.read_text() == "made\n"


def test_info_counts_entries_and_bytes_and_clean_empties(tmp_path: Path) -> None:
    cache = Cache(root=tmp_path)
    cache.obtain("deps", "a", lambda e: (e / "f").write_bytes(b"12345"))
    cache.obtain("results", "b", lambda e: (e / "g").write_bytes(b"12"))
    info = cache.info()
    counts = {k.kind: (k.entries, k.bytes) for k in info.kinds}
    assert counts == {"locks": (0, 0), "deps": (1, 5), "dists": (0, 0), "results": (1, 2)}
    assert info.bytes == 7
    assert cache.clean() == 7
    assert cache.info().bytes == 0
    assert cache.get("deps", "a") is None


def test_info_of_a_missing_cache_is_empty(tmp_path: Path) -> None:
    assert Cache(root=tmp_path / "never").info().bytes == 0


@dataclass(frozen=True, slots=True, kw_only=True)
class _Kept:
    a: int


def test_results_round_trip_as_json_and_damaged_or_foreign_ones_are_discarded(tmp_path: Path) -> None:
    cache = Cache(root=tmp_path)
    _reuse.store_result(cache, "k", _Kept(a=1))
    assert _reuse.load_result(cache, "k", _Kept) == _Kept(a=1)
    assert _reuse.load_result(cache, "missing", _Kept) is None
    stored = cache.path("results", "k") / "result.json"
    assert stored.read_bytes().endswith(b'{"schema":1,"value":{"a":1}}')  # plain data, no pickle
    good = stored.read_bytes()
    damages: dict[str, Callable[[bytes], bytes]] = {
        "flipped": lambda b: b.replace(b'"a":1', b'"a":7'),
        "truncated": lambda b: b[:-5],
        "garbage": lambda _b: b"\x80\x04garbage",
        "a sealed pickle": lambda _b: seal(pickle.dumps(_Kept(a=1))),
        "a sealed wrong type": lambda _b: seal(b'{"schema":1,"value":{"a":"1"}}'),
        "a sealed other schema": lambda _b: seal(b'{"schema":0,"value":{"a":1}}'),
    }
    for what, damage in damages.items():
        stored.write_bytes(damage(good))
        assert _reuse.load_result(cache, "k", _Kept) is None, what
        assert cache.get("results", "k") is None, what  # discarded: the next build stores a fresh one
        _reuse.store_result(cache, "k", _Kept(a=1))
    assert _reuse.load_result(cache, "k", int) is None  # another type under the key


def test_sealed_data_reads_back_only_unchanged(tmp_path: Path) -> None:
    blob = seal(b"data")
    assert unseal(blob) == b"data"
    assert unseal(blob[:-1]) is None
    assert unseal(blob.replace(b"data", b"dat4")) is None
    assert unseal(b"data") is None
    write_sealed(tmp_path / "f", b"x")
    assert read_sealed(tmp_path / "f") == b"x"
    assert read_sealed(tmp_path / "missing") is None


def test_obtain_many_makes_each_missing_entry_once_and_keeps_one_that_appeared_meanwhile(tmp_path: Path) -> None:
    cache = Cache(root=tmp_path / "c")
    cache.obtain("dists", "b", lambda e: (e / "who").write_text("other builder"))
    made: list[list[str]] = []

    def make(tmps: dict[str, Path]) -> None:
        made.append(sorted(tmps))
        for tmp in tmps.values():
            (tmp / "who").write_text("batch")
        # Another builder (a remote fetch) puts `c` into place while this batch installs: its entry stands.
        cache.obtain("dists", "c", lambda e: (e / "who").write_text("fetched"))

    assert cache.obtain_many("dists", ["a", "b", "c", "a"], make) == {"a"}
    assert made == [["a", "c"]]  # b was there; each key once
    assert [(cache.path("dists", k) / "who").read_text() for k in "abc"] == ["batch", "other builder", "fetched"]
    assert cache.obtain_many("dists", ["a", "b", "c"], make) == frozenset() and len(made) == 1
    assert list((tmp_path / "c" / "tmp").iterdir()) == []
