"""Lock files of other tools, each read into pinned requirements with hashes for one Lambda target.

One reader per format, by file name. A reader takes the lock, the function (its runtime, architecture, source,
extras and groups) and the Runner, and returns the Selection of pins; `export` checks the pins (a hash each, a
wheel for the target) and writes them in pip-tools' requirements format. The readers are imported when a lock is
read: they parse markers and requirements with packaging, which a build that reads no lock never needs.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from lpack import runtimes
from lpack.config.model import FunctionConfig
from lpack.resolve.locks.base import Selection, check_hashed, check_wheels, render
from lpack.resolve.runner import Runner

Reader = Callable[[Path, FunctionConfig, Runner], Selection]

FORMATS = ("uv.lock", "poetry.lock", "pylock.toml")


def _reader(kind: str) -> tuple[Reader, str]:
    """The reader of a format, and how to get wheels for another target into such a lock."""
    from lpack.resolve.locks import poetry, pylock, uv  # noqa: PLC0415 - see the module's docstring

    module = {"uv.lock": uv, "poetry.lock": poetry, "pylock.toml": pylock}[kind]
    return module.select, module.FIX


def lock_format(path: Path) -> str | None:
    """The format of a lock file by its name (PEP 751 allows pylock.NAME.toml), or None for requirements files."""
    name = path.name
    if name.startswith("pylock.") and name.endswith(".toml"):
        return "pylock.toml"
    return name if name in FORMATS else None


def export(lock: Path, fn: FunctionConfig, runner: Runner) -> tuple[list[str], frozenset[str]]:
    """Requirement lines with hashes for `fn`'s target from `lock`, and the names the project asks for directly."""
    kind = lock_format(lock)
    assert kind is not None
    reader, fix = _reader(kind)
    selection = reader(lock, fn, runner)
    check_hashed(selection.pins, lock)
    check_wheels(fn, selection.pins, lock, fix.format(machine=runtimes.machine_name(fn.architecture)))
    return render(selection.pins, via=lock.name), selection.direct


__all__ = ["FORMATS", "export", "lock_format"]
