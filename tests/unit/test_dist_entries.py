"""One cache entry per installed distribution: which locks qualify, how a scratch install is cut into entries,
and when the pipeline falls back to installing a lock whole."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lpack.cache import write_sealed
from lpack.pipeline import dists
from lpack.resolve.pins import read_pins

HASH_A, HASH_B = "a" * 64, "b" * 64


def _lock(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "requirements.lock.txt"
    path.write_text(text)
    return path


def test_a_hash_pinned_lock_reads_as_one_pin_per_distribution(tmp_path: Path) -> None:
    lock = _lock(
        tmp_path,
        "--index-url https://pypi.org/simple\n"
        f"Foo_Bar==1.2 \\\n    --hash=sha256:{HASH_B} \\\n    --hash=sha256:{HASH_A}\n    # via x\n"
        f"six==1.16.0 --hash=sha256:{HASH_A}\n",
    )
    pins = read_pins(lock)
    assert pins is not None
    assert pins.options == ("--index-url https://pypi.org/simple",)
    assert read_pins(_lock(tmp_path, "--find-links /srv/wheels\n--no-index\n")) is not None  # absolute: kept
    assert [(p.name, p.version, p.hashes) for p in pins.pins] == [
        ("foo-bar", "1.2", (HASH_A, HASH_B)),  # canonical name, hashes sorted: the key does not follow the order
        ("six", "1.16.0", (HASH_A,)),
    ]


@pytest.mark.parametrize(
    "line",
    [
        "six==1.16.0",  # no hash: nothing pins the file
        f"six==1.16.0 ; python_version < '3.9' --hash=sha256:{HASH_A}",  # a marker: decided per target
        f"six[extra]==1.16.0 --hash=sha256:{HASH_A}",
        f"six>=1.16 --hash=sha256:{HASH_A}",
        "-e ./local",
        "./local",
        "-r other.txt",
        "--no-binary :all:",
        f"six @ https://example.invalid/six.whl --hash=sha256:{HASH_A}",
        "--find-links wheels",  # relative to the lock's directory: a copy of the line elsewhere would lose it
        "-f ./wheels",
        "--index-url=simple",
    ],
)
def test_anything_but_plain_pins_and_index_options_installs_the_lock_whole(tmp_path: Path, line: str) -> None:
    assert read_pins(_lock(tmp_path, f"idna==3.7 --hash=sha256:{HASH_B}\n{line}\n")) is None


def test_the_same_distribution_pinned_twice_installs_the_lock_whole(tmp_path: Path) -> None:
    lock = _lock(tmp_path, f"six==1.16.0 --hash=sha256:{HASH_A}\nSix==1.16.0 --hash=sha256:{HASH_A}\n")
    assert read_pins(lock) is None


def _installed(scratch: Path, name: str, files: dict[str, str], *, record: list[str] | None = None) -> None:
    info = f"{name}-1.0.dist-info"
    for rel, text in {**files, f"{info}/METADATA": f"Name: {name}\n"}.items():
        (scratch / rel).parent.mkdir(parents=True, exist_ok=True)
        (scratch / rel).write_text(text)
    rows = record if record is not None else [*files, f"{info}/METADATA", f"{info}/RECORD"]
    (scratch / info / "RECORD").write_text("".join(f"{r},,\n" for r in rows))


def test_a_scratch_install_is_cut_along_each_record(tmp_path: Path) -> None:
    scratch = tmp_path / "scratch"
    _installed(scratch, "alpha", {"alpha/__init__.py": "a", "bin/alpha": "#!python"})
    _installed(scratch, "beta", {"beta.py": "b"})
    (scratch / "alpha-1.0.dist-info" / "uv_cache.json").write_text("{}")  # uv's, in no RECORD: stays with its dist
    (scratch / ".lock").write_text("")  # uv's, in the target: installer state, dropped
    targets = {"alpha": tmp_path / "a", "beta": tmp_path / "b"}
    for target in targets.values():
        target.mkdir()
    dists._split(scratch, targets)
    found = {
        n: sorted(p.relative_to(t / "site").as_posix() for p in (t / "site").rglob("*") if p.is_file())
        for n, t in targets.items()
    }
    assert found == {
        "alpha": [
            "alpha-1.0.dist-info/METADATA",
            "alpha-1.0.dist-info/RECORD",
            "alpha-1.0.dist-info/uv_cache.json",
            "alpha/__init__.py",
            "bin/alpha",
        ],
        "beta": ["beta-1.0.dist-info/METADATA", "beta-1.0.dist-info/RECORD", "beta.py"],
    }
    manifest = json.loads((targets["beta"] / "manifest.json").read_bytes().split(b"\n", 1)[1])
    assert sorted(manifest) == ["site/beta-1.0.dist-info/METADATA", "site/beta-1.0.dist-info/RECORD", "site/beta.py"]


@pytest.mark.parametrize(
    ("why", "damage"),
    [
        ("unclaimed", lambda s: (s / "stray.py").write_text("x")),
        ("claimed twice", lambda s: _installed(s, "beta", {"beta.py": "b"}, record=["alpha/__init__.py"])),
        ("escapes", lambda s: _installed(s, "beta", {"beta.py": "b"}, record=["../outside.py", "beta.py"])),
        ("absolute", lambda s: _installed(s, "beta", {"beta.py": "b"}, record=["/etc/passwd", "beta.py"])),
        ("not asked for", lambda s: _installed(s, "gamma", {"gamma.py": "g"})),
        ("missing", lambda s: None),
        ("a link", lambda s: (s / "alpha" / "link.py").symlink_to(s / "alpha" / "__init__.py")),
    ],
)
def test_a_scratch_install_that_cannot_be_cut_cleanly_falls_back(tmp_path: Path, why: str, damage: object) -> None:
    scratch = tmp_path / "scratch"
    _installed(scratch, "alpha", {"alpha/__init__.py": "a"})
    if why != "missing" and why not in ("claimed twice", "escapes", "absolute"):
        _installed(scratch, "beta", {"beta.py": "b"})
    assert callable(damage)
    damage(scratch)
    targets = {"alpha": tmp_path / "a", "beta": tmp_path / "b"}
    for target in targets.values():
        target.mkdir()
    with pytest.raises(dists._Unsplittable):
        dists._split(scratch, targets)


def test_two_distributions_with_one_path_of_different_content_overlap(tmp_path: Path) -> None:
    entries = []
    for name, digest in (("a", "1" * 64), ("b", "1" * 64), ("c", "2" * 64)):
        entry = tmp_path / "dists" / name
        entry.mkdir(parents=True)
        write_sealed(
            entry / "manifest.json", json.dumps({"site/ns/__init__.py": digest, f"site/{name}.py": digest}).encode()
        )
        entries.append(entry)
    assert dists._overlapping((entries[0], entries[1])) is None  # the same file twice: one content, no conflict
    assert dists._overlapping(tuple(entries)) == "two distributions install site/ns/__init__.py with different content"


def test_a_file_in_one_distribution_where_another_has_a_directory_overlaps(tmp_path: Path) -> None:
    entries = []
    for name, rel in (("a", "site/x"), ("b", "site/x/y.py")):
        entry = tmp_path / "dists" / name
        entry.mkdir(parents=True)
        write_sealed(entry / "manifest.json", json.dumps({rel: "1" * 64}).encode())
        entries.append(entry)
    assert dists._overlapping(tuple(entries)) == "site/x is a file in one distribution and a directory in another"
