"""An interpreter of the target's version: found on this machine, or downloaded once with uv into lpack's cache.

Looking for a version that is not here costs processes (uv's own search, pyenv's shims): 0.3 s, more than a
no-change rebuild may take. So the answer is remembered in the cache: a path while it exists, a miss while none
of the places searched has changed (their modification times) and for a day at most.
"""

from __future__ import annotations

import fcntl
import functools
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from uv import find_uv_bin

from lpack.cache import make_key

_MISS_TTL = 24 * 3600  # a failed download is tried again after this long (the network may be back)
_OFF = frozenset({"1", "true", "yes", "on"})


@dataclass(frozen=True, slots=True, kw_only=True)
class Interpreter:
    """The interpreter bytecode is compiled with, or why there is none."""

    path: Path | None
    note: str | None = None  # said when this run downloaded it
    reason: str | None = None  # why there is none


@functools.cache  # each candidate costs a process start; parallel builds of many functions ask again and again
def find_interpreter(version: tuple[int, int], explicit: Path | None = None) -> str | None:
    """An interpreter of exactly `version`: --python, this one, python3.X on PATH, pyenv's, or uv's."""
    candidates = [str(explicit)] if explicit else []
    if sys.version_info[:2] == version:
        candidates.append(sys.executable)
    candidates.append(f"python{version[0]}.{version[1]}")
    candidates += [str(p) for p in _pyenv_pythons(version)]
    for candidate in candidates:
        path = shutil.which(candidate) or (candidate if _is_file(candidate) else None)
        if path and _version_of(path) == version:
            return path
    return _uv_find(version)


def provide_interpreter(version: tuple[int, int], explicit: Path | None, *, memo_dir: Path, store: Path) -> Interpreter:
    """find_interpreter's answer, remembered in `memo_dir`; else one downloaded with `uv python install` into
    `store`, unless LPACK_OFFLINE=1 (or uv's UV_OFFLINE=1, UV_PYTHON_DOWNLOADS=never)."""
    memo = memo_dir / make_key("interpreter", repr(version), str(explicit), _path_var(), str(_downloads_off()))
    known = _recall(memo, version, store)
    if known is not None:
        return known
    with _locked(store, version):  # builds of several functions in threads or processes download once
        found = _managed(version, store) or find_interpreter(version, explicit)
        result = Interpreter(path=Path(found)) if found else _download(version, store)
        _remember(memo, result, _stamp(version, store))
    return result


def _recall(memo: Path, version: tuple[int, int], store: Path) -> Interpreter | None:
    try:
        data = json.loads(memo.read_text())
        path, reason, stamp, when = data["path"], data["reason"], data["stamp"], float(data["time"])
    except (OSError, ValueError, KeyError, TypeError):
        return None  # none yet, or damaged: search again
    if isinstance(path, str):
        return Interpreter(path=Path(path)) if _is_file(path) else None
    if stamp == _stamp(version, store) and time.time() - when < _MISS_TTL and isinstance(reason, str):
        return Interpreter(path=None, reason=reason)
    return None


def _remember(memo: Path, result: Interpreter, stamp: str) -> None:
    data = {"path": str(result.path) if result.path else None, "reason": result.reason, "stamp": stamp}
    tmp = memo.with_name(f".{memo.name}.{os.getpid()}")
    try:
        tmp.write_text(json.dumps({**data, "time": time.time()}))
        tmp.replace(memo)
    except OSError:  # only a later build's search is slower
        tmp.unlink(missing_ok=True)


def _stamp(version: tuple[int, int], store: Path) -> str:
    """The modification times of every place an interpreter is looked for: one appears, a time changes."""
    uv_data = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    places = [
        *_path_var().split(os.pathsep),
        str(Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv") / "versions"),
        os.environ.get("UV_PYTHON_INSTALL_DIR") or str(Path(uv_data) / "uv" / "python"),
        str(store),
    ]
    return json.dumps([version, *(_mtime(p) for p in places)])


def _mtime(place: str) -> list[object]:
    try:
        return [place, Path(place).stat().st_mtime_ns]
    except OSError:
        return [place, None]


def _is_file(path: str) -> bool:
    # Path.is_file raises on EACCES (a directory on the way this user may not search): not an interpreter here.
    try:
        return Path(path).is_file()
    except OSError:
        return False


def _path_var() -> str:
    return os.environ.get("PATH", "")


def _download(version: tuple[int, int], store: Path) -> Interpreter:
    name = f"python{version[0]}.{version[1]}"
    off = _downloads_off()
    if off:
        return Interpreter(
            path=None, reason=f"no {name} found to compile bytecode, none downloaded ({off}): pass --python"
        )
    # --no-bin: uv would otherwise link python3.X into ~/.local/bin, outside lpack's cache.
    cmd = [find_uv_bin(), "python", "install", f"{version[0]}.{version[1]}", "--install-dir", str(store), "--no-bin"]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900, check=False)
        said = (proc.stderr.strip().splitlines() or [f"exit {proc.returncode}"])[-1].strip()
        installed = proc.returncode == 0
    except (OSError, subprocess.SubprocessError) as err:
        said, installed = str(err), False
    found = _managed(version, store) if installed else None  # a failed install may leave half a tree
    if found is None:
        return Interpreter(
            path=None,
            reason=f"no {name} found to compile bytecode, and `uv python install` failed ({said}): "
            "pass --python, or set LPACK_OFFLINE=1 to skip the download",
        )
    note = f"downloaded {name} with `uv python install` into lpack's cache to compile bytecode (LPACK_OFFLINE=1 skips)"
    return Interpreter(path=Path(found), note=note)


def _downloads_off() -> str | None:
    if os.environ.get("LPACK_OFFLINE", "").lower() in _OFF:
        return "LPACK_OFFLINE is set"
    if os.environ.get("UV_OFFLINE", "").lower() in _OFF:
        return "UV_OFFLINE is set"
    if os.environ.get("UV_PYTHON_DOWNLOADS", "").lower() == "never":
        return "UV_PYTHON_DOWNLOADS=never"
    return None


def _managed(version: tuple[int, int], store: Path) -> str | None:
    # uv names an install cpython-3.14.0-linux-x86_64-gnu; free-threaded and debug builds carry a "+".
    major, minor = version
    found = [p for p in store.glob(f"cpython-{major}.{minor}.*/bin/python{major}.{minor}") if "+" not in p.parts[-3]]
    for path in sorted(found, key=lambda p: _patch(p.parts[-3]), reverse=True):
        if _version_of(str(path)) == version:
            return str(path)
    return None


def _patch(name: str) -> int:
    parts = name.split("-")[1].split(".")
    return int(parts[2]) if len(parts) > 2 and parts[2].isdigit() else -1


@contextmanager
def _locked(store: Path, version: tuple[int, int]) -> Iterator[None]:
    store.mkdir(parents=True, exist_ok=True)
    with (store / ".lock-{}.{}".format(*version)).open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        yield  # closing the file releases the lock


def _pyenv_pythons(version: tuple[int, int]) -> list[Path]:
    # pyenv's shims refuse to run a version that is installed but not selected; its own copies work.
    root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    return sorted(root.glob(f"versions/{version[0]}.{version[1]}.*/bin/python{version[0]}.{version[1]}"), reverse=True)


def _version_of(python: str) -> tuple[int, int] | None:
    try:
        out = subprocess.run(
            [python, "-I", "-S", "-c", "import sys; print(*sys.version_info[:2])"],  # no site: half the start-up
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout.split()
    except (OSError, subprocess.SubprocessError):
        return None
    return (int(out[0]), int(out[1])) if len(out) == 2 else None


def _uv_find(version: tuple[int, int]) -> str | None:
    try:
        proc = subprocess.run(
            [find_uv_bin(), "python", "find", "--no-python-downloads", f"{version[0]}.{version[1]}"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    path = proc.stdout.strip()
    return path if proc.returncode == 0 and path and _version_of(path) == version else None
