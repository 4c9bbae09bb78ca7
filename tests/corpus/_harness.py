"""The bad-input corpus harness: run one broken input through the CLI and check every promise lpack makes.

API (for tests/corpus/test_*.py):

- `Case(name=..., argv=(...), exit_code=..., error=..., setup=..., ...)`: one bad input. `setup(tmp)` writes
  whatever the case needs under the scratch dir `tmp` (usually `tmp / "project"`); `argv` may use the
  placeholders {project} (tmp/project), {out} (tmp/out), {tmp} and {report} (tmp/report.json).
  With `good_argv`, that command runs first on the good project and must exit 0; then `breaks(tmp)` breaks it,
  `argv` runs, and every file under {out} must be byte-identical afterwards.
- `run_case(case, tmp, monkeypatch)`: runs it and asserts: the exit code; exactly one `error:` line, holding
  `case.error`; no "Traceback" in stdout or stderr; the previous artifact unchanged; no file created or changed
  outside {out}, {report} and the temp dirs (the project tree and a sentinel working dir are snapshotted); and
  MARKER (plant it in the secret) in none of stdout, stderr, the report or any file in {out}, zips included.
  Cases that expect exit 0 give `warning` (a substring of stderr) instead of `error`.
- `run_cli(argv)` runs `lpack` in-process the way the console script does (`main.main(...)`, click's standalone
  mode, so the top-level guard is what a user gets) and returns a `Run(exit_code, stdout, stderr)`.
- `write_project(root, files)` writes a tiny project; `PY_PROJECT` is a dependency-free Python function.
- `as_nobody=True` runs the command as user nobody in a subprocess (setpriv), for permission cases; skipped
  with the reason when not root or setpriv is missing.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from lpack.cli import main

# Planted in every secret a case writes; must never come out anywhere.
MARKER = "LPACKMARK7f3a9c"

PY_PROJECT: Mapping[str, str | bytes] = {
    "lpack.toml": 'runtime = "python3.12"\nhandler = "app.handler"\n',
    "app.py": "def handler(event, context):\n    return {'ok': True}\n",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Run:
    exit_code: int
    stdout: str
    stderr: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Case:
    name: str
    argv: tuple[str, ...]
    exit_code: int
    error: str = ""  # substring of the one `error:` line
    warning: str = ""  # for exit-0 cases: substring of stderr
    setup: Callable[[Path], object] = lambda tmp: write_project(tmp / "project", PY_PROJECT)
    good_argv: tuple[str, ...] | None = None
    breaks: Callable[[Path], object] | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    as_nobody: bool = False
    skip: str = ""

    def __str__(self) -> str:
        return self.name


def write_project(root: Path, files: Mapping[str, str | bytes]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    return root


def run_cli(argv: list[str], *, env: Mapping[str, str] | None = None) -> Run:
    """`lpack ARGV` in this process, as the console script runs it."""
    out, err = io.StringIO(), io.StringIO()
    saved = {k: os.environ.get(k) for k in env or {}}
    os.environ.update(env or {})
    code: int | str | None = 0
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main.main(args=argv, prog_name="lpack", standalone_mode=True)
            except SystemExit as exit_:
                code = exit_.code
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    exit_code = code if isinstance(code, int) else (0 if code is None else 1)
    return Run(exit_code=exit_code, stdout=out.getvalue(), stderr=err.getvalue())


def run_as_nobody(argv: list[str], *, cwd: Path, env: Mapping[str, str]) -> Run:
    """`lpack ARGV` as user nobody, in a subprocess: for permission cases, which root would read through."""
    full_env = {**os.environ, **env, "TMPDIR": tempfile.gettempdir()}
    command = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", sys.executable, "-m", "lpack"]
    done = subprocess.run([*command, *argv], cwd=cwd, env=full_env, capture_output=True, text=True, check=False)
    return Run(exit_code=done.returncode, stdout=done.stdout, stderr=done.stderr)


def _snapshot(root: Path, skip: tuple[Path, ...] = ()) -> dict[str, str]:
    found: dict[str, str] = {}
    if not root.exists():
        return found
    for base, dirs, files in os.walk(root):
        base_path = Path(base)
        dirs[:] = [d for d in dirs if base_path / d not in skip]
        for name in files + [d for d in dirs if (base_path / d).is_symlink()]:
            path = base_path / name
            if path in skip:
                continue
            rel = path.relative_to(root).as_posix()
            try:
                found[rel] = f"link:{path.readlink()}" if path.is_symlink() else _sha(path)
            except OSError:
                found[rel] = "unreadable"
    return found


def _sha(path: Path) -> str:
    if not path.is_file():
        return "special"  # a FIFO or socket a case planted: reading it would block
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _texts(root: Path) -> list[tuple[str, bytes]]:
    """Every file under root as bytes, and every member of every zip in it."""
    found: list[tuple[str, bytes]] = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else []:
        data = path.read_bytes()
        found.append((str(path), data))
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as zf:
                found.extend((f"{path}!{i.filename}", zf.read(i)) for i in zf.infolist() if not i.is_dir())
    return found


def _expand(argv: tuple[str, ...], tmp: Path) -> list[str]:
    names = {"project": tmp / "project", "out": tmp / "out", "tmp": tmp, "report": tmp / "report.json"}
    return [a.format(**{k: str(v) for k, v in names.items()}) for a in argv]


def _world_tmp() -> Path:
    # pytest's tmp_path is root's 0700 directory: nobody could not even reach the project.
    tmp = Path(tempfile.mkdtemp(prefix="lpack-corpus-"))
    tmp.chmod(0o777)
    return tmp


def _places(tmp: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, tuple[Path, tuple[Path, ...]]]:
    """The directories nothing may change in, each with what inside it may change; the process is moved there."""
    cwd, home, systemp = tmp / "cwd", tmp / "home", tmp / "systemp"
    for directory in (cwd, home, systemp):
        directory.mkdir(parents=True, exist_ok=True)
    monkeypatch.chdir(cwd)
    # HOME apart from the working dir: installers may keep their own caches in ~/.cache, as they do for a user.
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setattr(tempfile, "tempdir", str(systemp))
    project = tmp / "project"
    return {
        "the working directory": (cwd, ()),
        "HOME, outside ~/.cache,": (home, (home / ".cache",)),
        "the project tree": (project, (tmp / "out", project / "dist")),
    }


def _run(case: Case, tmp: Path, env: Mapping[str, str]) -> Run:
    if not case.as_nobody:
        return run_cli(_expand(case.argv, tmp), env=env)
    # Everything to nobody: a mode the case set (000) still denies the owner, which is the point.
    for path in [tmp, *tmp.rglob("*")]:
        os.lchown(path, 65534, 65534)
    return run_as_nobody(_expand(case.argv, tmp), cwd=tmp / "cwd", env=env)


def _check_output(case: Case, run: Run) -> None:
    shown = f"exit {run.exit_code}\n--- stdout\n{run.stdout}\n--- stderr\n{run.stderr}"
    assert run.exit_code == case.exit_code, shown
    assert "Traceback" not in run.stdout + run.stderr, shown
    # click's own usage errors say "Error:"; lpack's say "error:". Either way: one line.
    errors = [ln for ln in run.stderr.splitlines() if ln.lower().startswith("error:")]
    folded = " ".join(run.stderr.split())
    if case.exit_code != 0:
        assert len(errors) == 1, shown
        assert case.error in folded, shown
    else:
        assert not errors, shown
        assert case.warning in folded, shown


def _check_no_secret(run: Run, tmp: Path) -> None:
    report = tmp / "report.json"
    found = [("stdout", run.stdout.encode()), ("stderr", run.stderr.encode()), *_texts(tmp / "out")]
    if report.is_file():
        found.append(("the report", report.read_bytes()))
    for name, data in found:
        assert MARKER.encode() not in data, f"the planted secret is in {name}"


def run_case(case: Case, tmp: Path, monkeypatch: pytest.MonkeyPatch) -> Run:
    if case.skip:
        pytest.skip(case.skip)
    if case.as_nobody:
        if os.geteuid() != 0 or shutil.which("setpriv") is None:
            pytest.skip("needs root and setpriv to drop to user nobody (as a non-root user, run the suite as is)")
        tmp = _world_tmp()
        monkeypatch.setenv("LPACK_CACHE_DIR", str(tmp / "cache"))
        try:
            return _checked(case, tmp, monkeypatch)
        finally:
            monkeypatch.chdir("/")
            shutil.rmtree(tmp, ignore_errors=True)
    return _checked(case, tmp, monkeypatch)


def _checked(case: Case, tmp: Path, monkeypatch: pytest.MonkeyPatch) -> Run:
    places = _places(tmp, monkeypatch)
    case.setup(tmp)
    env = dict(zip(case.env, _expand(tuple(case.env.values()), tmp), strict=True))
    if case.good_argv is not None:
        good = run_cli(_expand(case.good_argv, tmp), env=env)
        assert good.exit_code == 0, f"the good build failed: {good.stderr}"
        if case.breaks is not None:
            case.breaks(tmp)
    before_out = _snapshot(tmp / "out")
    before = {name: _snapshot(root, skip) for name, (root, skip) in places.items()}
    run = _run(case, tmp, env)
    _check_output(case, run)
    if case.exit_code != 0:
        assert _snapshot(tmp / "out") == before_out, "the previous artifact changed"
    for name, (root, skip) in places.items():
        assert _snapshot(root, skip) == before[name], f"a file was written or changed in {name}"
    _check_no_secret(run, tmp)
    return run
