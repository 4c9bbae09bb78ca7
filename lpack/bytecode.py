"""Hash-based .pyc for the target Python (PEP 552), so a read-only /var/task never recompiles.

Lambda's /var/task is read-only, so bytecode compiled at import is never cached: every cold start
recompiles unless the zip ships valid pyc. Timestamp pyc are stale against the zip's fixed dates
(aws-lambda-builders#924), so ship unchecked-hash pyc, or none.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from uv import find_uv_bin

from lpack import runtimes
from lpack.staging.tree import Entry, StagingTree

# Runs inside the target interpreter: compiles each (source, pyc, display path) from stdin.
_COMPILER = r"""
import json, py_compile, sys
ok = bad = 0
for src, cfile, dfile in json.load(sys.stdin):
    try:
        py_compile.compile(src, cfile=cfile, dfile=dfile, doraise=True,
                           invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
        ok += 1
    except (py_compile.PyCompileError, SyntaxError, ValueError, UnicodeDecodeError):
        bad += 1
print(json.dumps([ok, bad, sys.implementation.cache_tag]))
"""


_NAME_MAX = 255  # bytes in one file name on Linux file systems (NAME_MAX)


@dataclass(frozen=True, slots=True, kw_only=True)
class BytecodeResult:
    compiled: int
    failed: int  # sources that do not compile for the target (py2 leftovers, templates): shipped as .py
    interpreter: str | None  # e.g. "python3.12"; None when none was found
    reason: str | None  # why nothing was compiled


@functools.cache  # each candidate costs a process start; parallel builds of many functions ask again and again
def find_interpreter(version: tuple[int, int], explicit: Path | None = None) -> str | None:
    """An interpreter of exactly `version`: --python, this one, python3.X on PATH, or uv's."""
    candidates = [str(explicit)] if explicit else []
    if sys.version_info[:2] == version:
        candidates.append(sys.executable)
    candidates.append(f"python{version[0]}.{version[1]}")
    candidates += [str(p) for p in _pyenv_pythons(version)]
    for candidate in candidates:
        path = shutil.which(candidate) or (candidate if Path(candidate).is_file() else None)
        if path and _version_of(path) == version:
            return path
    return _uv_find(version)


def _pyenv_pythons(version: tuple[int, int]) -> list[Path]:
    # pyenv's shims refuse to run a version that is installed but not selected; its own copies work.
    root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    return sorted(root.glob(f"versions/{version[0]}.{version[1]}.*/bin/python{version[0]}.{version[1]}"), reverse=True)


def _version_of(python: str) -> tuple[int, int] | None:
    try:
        out = subprocess.run(
            [python, "-c", "import sys; print(*sys.version_info[:2])"],
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


def compile_tree(
    tree: StagingTree,
    runtime: runtimes.Runtime,
    work: Path,
    *,
    root: str,
    python: Path | None = None,
    keep_existing: bool = False,
) -> tuple[StagingTree, BytecodeResult]:
    """Add `__pycache__/*.cpython-3X.pyc` for every .py; `root` is where Lambda extracts the tree.

    With `keep_existing`, a pyc already in `work` is used as it is: `work` is a cache entry's pyc
    directory, next to sources that never change.
    """
    assert runtime.version is not None
    interpreter = find_interpreter(runtime.version, python)
    if interpreter is None:
        reason = f"no python{runtime.version[0]}.{runtime.version[1]} found to compile bytecode (pass --python)"
        return tree, BytecodeResult(compiled=0, failed=0, interpreter=None, reason=reason)
    tag = f"cpython-{runtime.version[0]}{runtime.version[1]}"
    every = [(e, _pyc_path(e.path, tag)) for e in tree if e.path.endswith(".py")]
    # A legal .py name can be too long for its .pyc (name + ".cpython-312.pyc" over 255 bytes): shipped as source.
    jobs = [(e, pyc) for e, pyc in every if len(pyc.rpartition("/")[2].encode()) <= _NAME_MAX]
    todo = [(e, pyc) for e, pyc in jobs if not (keep_existing and (work / pyc).is_file())]
    plan = [(str(e.source), str(work / pyc), f"{root}/{e.path}") for e, pyc in todo]
    ok, bad = _run_compiler(interpreter, plan)
    ok += len(jobs) - len(todo)
    added = [
        Entry(path=pyc, source=work / pyc, size=(work / pyc).stat().st_size, executable=False, origin="bytecode")
        for _, pyc in jobs
        if (work / pyc).is_file()
    ]
    name = f"python{runtime.version[0]}.{runtime.version[1]}"
    failed = bad + len(every) - len(jobs)
    return tree.merged(added), BytecodeResult(compiled=ok, failed=failed, interpreter=name, reason=None)


def _pyc_path(py: str, tag: str) -> str:
    head, _, name = py.rpartition("/")
    return f"{head + '/' if head else ''}__pycache__/{name[:-3]}.{tag}.pyc"


def _run_compiler(interpreter: str, plan: list[tuple[str, str, str]]) -> tuple[int, int]:
    if not plan:
        return 0, 0
    # Two halves on two cores; PYTHONHASHSEED=0 keeps set and frozenset constants in one order.
    env = {**os.environ, "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1"}
    chunks = [plan[i :: max(1, min(os.cpu_count() or 1, 4))] for i in range(max(1, min(os.cpu_count() or 1, 4)))]
    procs = [
        subprocess.Popen(
            [interpreter, "-I", "-c", _COMPILER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, text=True
        )
        for chunk in chunks
        if chunk
    ]
    results = [p.communicate(json.dumps(chunk))[0] for p, chunk in zip(procs, [c for c in chunks if c], strict=True)]
    counts = [json.loads(r)[:2] for r in results]
    return sum(c[0] for c in counts), sum(c[1] for c in counts)
