"""Compiling a staged tree for the target interpreter, in one process per core, and checking the function's
own code compiles."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lpack import runtimes
from lpack.bytecode.interpreters import find_interpreter
from lpack.errors import AuditError
from lpack.staging.tree import Entry, StagingTree

# Runs inside the target interpreter: compiles each (source, pyc, display path) from stdin and names the
# sources that do not compile (display path, line, message).
_NAME_MAX = 255  # bytes in one file name on Linux file systems (NAME_MAX)

_COMPILER = r"""
import json, py_compile, sys
ok, bad = 0, []
for src, cfile, dfile in json.load(sys.stdin):
    try:
        py_compile.compile(src, cfile=cfile, dfile=dfile, doraise=True,
                           invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
        ok += 1
    except py_compile.PyCompileError as err:
        inner = err.exc_value
        bad.append([dfile, getattr(inner, "lineno", None), getattr(inner, "msg", None) or str(inner)])
    except (SyntaxError, ValueError, UnicodeDecodeError) as err:
        bad.append([dfile, getattr(err, "lineno", None), str(err)])
print(json.dumps([ok, bad, sys.implementation.cache_tag]))
"""

# Runs in this (the host's) interpreter when none of the target's version is here: parses each (source, display
# path) with the target's grammar as far as `ast` knows it (feature_version), then compiles the tree, which adds
# the checks the parser leaves to the compiler ('return' outside a function, ...). `-W ignore`: a warning turned
# into an error would read as a syntax error.
_CHECKER = r"""
import ast, json, sys
version = tuple(json.loads(sys.argv[1]))
bad = []
for src, dfile in json.load(sys.stdin):
    try:
        with open(src, "rb") as f:
            compile(ast.parse(f.read(), dfile, feature_version=version), dfile, "exec", dont_inherit=True)
    except SyntaxError as err:
        bad.append([dfile, err.lineno, err.msg])
    except (ValueError, UnicodeDecodeError) as err:
        bad.append([dfile, None, str(err)])
print(json.dumps(bad))
"""


@dataclass(frozen=True, slots=True, kw_only=True)
class CompileFailure:
    """A source the target Python cannot compile."""

    path: str  # inside the artifact
    line: int | None
    message: str

    def describe(self) -> str:
        return f"{self.path}{f', line {self.line}' if self.line else ''}: {self.message}"


@dataclass(frozen=True, slots=True, kw_only=True)
class BytecodeResult:
    compiled: int
    failed: int  # sources that do not compile for the target (py2 leftovers, templates): shipped as .py
    interpreter: str | None  # e.g. "python3.12"; None when none was found
    reason: str | None  # why nothing was compiled
    failures: tuple[CompileFailure, ...] = ()  # the `failed` sources, when compiled in this run
    note: str | None = None  # how the interpreter was obtained, when that is news (downloaded)


def compile_tree(
    tree: StagingTree,
    runtime: runtimes.Runtime,
    work: Path,
    *,
    root: str,
    python: Path | None = None,
    keep_existing: bool | Callable[[Path], bool] = False,
    out_of: Callable[[Entry], Path] | None = None,
    interpreter: str | None = None,
) -> tuple[StagingTree, BytecodeResult]:
    """Add `__pycache__/*.cpython-3X.pyc` for every .py; `root` is where Lambda extracts the tree.

    The pyc go under `work`, or under `out_of(entry)` for each source when given (a cache entry's pyc
    directory). With `keep_existing` (or for the pyc paths it accepts, when a function), a pyc already there
    is used as it is: it sits next to sources that never change. `interpreter`, when the caller found one
    already, is used without asking it its version again: each compiler process reports its cache tag, and a
    wrong one fails the build.
    """
    assert runtime.version is not None
    interpreter = interpreter or find_interpreter(runtime.version, python)
    if interpreter is None:
        reason = f"no python{runtime.version[0]}.{runtime.version[1]} found to compile bytecode (pass --python)"
        return tree, BytecodeResult(compiled=0, failed=0, interpreter=None, reason=reason)
    tag = f"cpython-{runtime.version[0]}{runtime.version[1]}"
    every = [(e, pyc_path(e.path, tag)) for e in tree if e.path.endswith(".py")]
    # A legal .py name can be too long for its .pyc (name + ".cpython-312.pyc" over 255 bytes): shipped as source.
    jobs = [(pyc, out_of(e) / pyc if out_of else work / pyc, e) for e, pyc in every if _fits(pyc)]
    keep = keep_existing if callable(keep_existing) else (lambda _out: keep_existing)
    todo = [(out, e) for _, out, e in jobs if not (keep(out) and out.is_file())]
    plan = [(str(e.source), str(out), f"{root}/{e.path}") for out, e in todo]
    ok, bad = _run_compiler(interpreter, plan, tag)
    ok += len(jobs) - len(todo)
    added = [
        Entry(path=pyc, source=out, size=out.stat().st_size, executable=False, origin="bytecode")
        for pyc, out, _ in jobs
        if out.is_file()
    ]
    name = f"python{runtime.version[0]}.{runtime.version[1]}"
    failures = _failures(bad, root)
    failed = len(bad) + len(every) - len(jobs)
    result = BytecodeResult(compiled=ok, failed=failed, interpreter=name, reason=None, failures=failures)
    return tree.merged(added), result


def sourceless(tree: StagingTree, runtime: runtimes.Runtime) -> StagingTree:
    """The dependencies as bytecode only, in the legacy layout the import system loads without a source
    (SourcelessFileLoader): pkg/mod.pyc where pkg/mod.py was, no __pycache__. The function's own code keeps its
    source (tracebacks show its lines), and a dependency's .py that did not compile stays as it is."""
    assert runtime.version is not None
    tag = f"cpython-{runtime.version[0]}{runtime.version[1]}"
    by_path = {e.path: e for e in tree}
    drop: list[str] = []
    moved: list[Entry] = []
    for e in tree:
        pyc = by_path.get(pyc_path(e.path, tag)) if e.origin == "deps" and e.path.endswith(".py") else None
        if pyc is not None:
            drop += [e.path, pyc.path]
            moved.append(dataclasses.replace(pyc, path=f"{e.path}c"))
    return tree.without(drop).merged(moved)


def check_own_code(tree: StagingTree, runtime: runtimes.Runtime, compiled: BytecodeResult) -> list[str]:
    """Raise AuditError when a module of the function's own code (not its dependencies') does not compile for
    the target; warnings for what could only be checked with an older grammar than the target's.

    The bytecode step's failures say it for the target interpreter; without one (or with bytecode off), this
    interpreter parses the code with the target's grammar (`ast`'s feature_version).
    """
    assert runtime.version is not None
    code = {e.path for e in tree if e.origin == "code" and e.path.endswith(".py")}
    if compiled.interpreter is not None:
        failures = tuple(f for f in compiled.failures if f.path in code)
        exact = True
    else:
        failures = _host_check([e for e in tree if e.path in code], runtime.version)
        exact = runtime.version <= sys.version_info[:2]
    if not failures:
        return []
    target = f"python{runtime.version[0]}.{runtime.version[1]}"
    if not exact:  # a newer grammar than this interpreter's `ast` knows: the code may well be right
        here = f"python{sys.version_info[0]}.{sys.version_info[1]}"
        return [f"{f.describe()} (checked with {here}'s parser; no {target} here to check it)" for f in failures]
    more = f" (and {len(failures) - 1} more)" if len(failures) > 1 else ""
    raise AuditError(
        f"the function's code does not compile for {target}: {failures[0].describe()}{more}",
        hint="fix the syntax error; every module of the function is compiled for the target Python",
    )


def _host_check(entries: list[Entry], version: tuple[int, int]) -> tuple[CompileFailure, ...]:
    if not entries:
        return ()
    plan = [(str(e.source), e.path) for e in entries]
    try:
        proc = subprocess.run(
            [sys.executable, "-I", "-W", "ignore", "-c", _CHECKER, json.dumps(list(version))],
            input=json.dumps(plan),
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        )
        return _failures(json.loads(proc.stdout), "")
    except (OSError, subprocess.SubprocessError, ValueError):
        # This interpreter cannot start itself here (a user who may not execute its path): nothing is checked,
        # as when no interpreter of the target version exists; the bytecode step's reason says so.
        return ()


def _failures(rows: list[list[object]], root: str) -> tuple[CompileFailure, ...]:
    prefix = f"{root}/" if root else ""
    return tuple(
        CompileFailure(path=str(d).removeprefix(prefix), line=line if isinstance(line, int) else None, message=str(m))
        for d, line, m in sorted(rows, key=lambda r: str(r[0]))
    )


def _fits(pyc: str) -> bool:
    return len(pyc.rpartition("/")[2].encode()) <= _NAME_MAX


def pyc_path(py: str, tag: str) -> str:
    """Where a module's pyc goes: dir/__pycache__/name.<tag>.pyc."""
    head, _, name = py.rpartition("/")
    return f"{head + '/' if head else ''}__pycache__/{name[:-3]}.{tag}.pyc"


# Fewer files than this per process and the process's start-up costs more than it saves.
_MIN_BATCH = 64


def _run_compiler(interpreter: str, plan: list[tuple[str, str, str]], tag: str) -> tuple[int, list[list[object]]]:
    if not plan:
        return 0, []
    # One process per core (each compiles a stride of the files, so big packages spread over all of them);
    # PYTHONHASHSEED=0 keeps set and frozenset constants in one order, whichever process compiles a file.
    env = {**os.environ, "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1"}
    workers = max(1, min(os.cpu_count() or 1, -(-len(plan) // _MIN_BATCH)))
    chunks = [plan[i::workers] for i in range(workers)]
    procs = [
        subprocess.Popen(
            # -I: no user site, no PYTHON* variables; -S: no site module at all (py_compile needs none of it, and
            # its start-up is a third of a process that compiles one module).
            [interpreter, "-I", "-S", "-c", _COMPILER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            text=True,
        )
        for _ in chunks
    ]
    results = [_answer(interpreter, p, chunk) for p, chunk in zip(procs, chunks, strict=True)]
    if any(r[2] != tag for r in results):  # an interpreter replaced since it was found: pyc the target ignores
        raise AuditError(
            f"{interpreter} compiles for {results[0][2]}, not {tag}",
            hint="pass --python with an interpreter of the target's version, or `lpack cache clean` to search again",
        )
    return sum(int(r[0]) for r in results), [row for r in results for row in r[1]]


def _answer(interpreter: str, proc: subprocess.Popen[str], chunk: list[tuple[str, str, str]]) -> list[Any]:
    out = proc.communicate(json.dumps(chunk))[0]
    try:
        answer = json.loads(out) if proc.returncode == 0 else None
    except ValueError:
        answer = None
    if not isinstance(answer, list) or len(answer) != 3:
        raise AuditError(
            f"{interpreter} failed while compiling bytecode (exit {proc.returncode})",
            hint='pass --python with a working interpreter of the target\'s version, or set bytecode = "none"',
        )
    return answer
