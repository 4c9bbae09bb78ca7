"""lpack beside `sam build`, `chalice package` and `uv pip install --target` + `zip -r`: same projects, same run.

    python benchmarks/bench_tools.py [--runs N] [--import-runs N] [--only NAME] [--tools-bin DIR] [--quick]

The suite's projects (web, data, crypto: python3.12/x86_64 from PyPI, see bench_suite.py). `sam` (aws-sam-cli,
its default builder, no container) and `chalice` are taken from --tools-bin or PATH, and rows for a missing one
are left out; install both with `python3.12 -m venv TOOLS && TOOLS/bin/pip install aws-sam-cli chalice`.
Every tool has its package manager's cache warm (one untimed warm-up build each) and its own build cache empty:
lpack gets a fresh cache directory per cold run, SAM a fresh build directory (no --cached), Chalice's
deployment cache is removed. Each time includes making the zip (`zip -r` of `.aws-sam/build/Fn` for SAM).
Besides the cold builds: no-change and code-only rebuilds (through the CLI, and in-process with bench_rebuild's
loop), a new lock whose wheels are cached and an empty local cache with a warm S3 cache (bench_cache.py), and a
source-only build for the bytecode-only size goal. Prints median wall times, other ratios, zipped/unzipped sizes,
the handler's import time from each unpacked, read-only artifact (lpack default, lpack `bytecode = "only"`, SAM),
and last issue 15's goals table (bench_goals.py): each goal's figure per project, met or missed by how much.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import bench_cache
from bench_build import BenchError, bench_env, human, run, table
from bench_goals import (
    BYTECODE_ONLY,
    CHALICE,
    CODE_ONLY,
    CODE_ONLY_IN_PROCESS,
    COLD,
    NO_CHANGE,
    NO_CHANGE_IN_PROCESS,
    SAM,
    SAM_NEW_LOCK,
    SOURCE_ONLY,
    UV,
    UV_NEW_LOCK,
    render_goals,
)
from bench_rebuild import rebuild_times
from bench_suite import _PROJECTS, PYTHON, import_time, lpack, make_project, median_time, progress, sizes, unpack

from lpack.bytecode import find_interpreter
from lpack.runtimes import get_runtime, uv_platform

_SAM_TEMPLATE = """\
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: app.handler
      Runtime: python3.12
      Architectures: [x86_64]
"""
# Chalice loads app.py to find the app: the handler imports its dependencies lazily, since they are installed
# for Lambda, not for this machine.
_CHALICE_APP = """\
from chalice import Chalice

app = Chalice(app_name="{name}")


@app.lambda_function()
def handler(event, context):
    import app_deps  # noqa: F401
    return {{}}
"""


def sam_project(tmp: Path, name: str, *, variant: str = "", requirements: str | None = None) -> Path:
    wanted, app = _PROJECTS[name]
    root = tmp / f"sam-{name}{variant}"
    (root / "src").mkdir(parents=True)
    (root / "template.yaml").write_text(_SAM_TEMPLATE)
    (root / "src" / "app.py").write_text(app)
    (root / "src" / "requirements.txt").write_text(wanted if requirements is None else requirements)
    return root


def chalice_project(tmp: Path, name: str) -> Path:
    wanted, app = _PROJECTS[name]
    root = tmp / f"chalice-{name}"
    (root / ".chalice").mkdir(parents=True)
    config = {"version": "2.0", "app_name": name, "stages": {"dev": {}}}
    (root / ".chalice" / "config.json").write_text(json.dumps(config))
    (root / "app.py").write_text(_CHALICE_APP.format(name=name))
    (root / "chalicelib").mkdir()
    (root / "chalicelib" / "app_deps.py").write_text(app)
    (root / "requirements.txt").write_text(wanted)
    return root


def sam_build(sam: str, root: Path, env: dict[str, str]) -> Path:
    shutil.rmtree(root / ".aws-sam", ignore_errors=True)
    run([sam, "build", "--template", "template.yaml"], env, cwd=root)
    out = root / "sam.zip"
    out.unlink(missing_ok=True)
    run(["zip", "-r", "-q", str(out), "."], env, cwd=root / ".aws-sam" / "build" / "Fn")
    return out


def chalice_package(chalice: str, root: Path, env: dict[str, str]) -> Path:
    shutil.rmtree(root / ".chalice" / "deployments", ignore_errors=True)  # its build cache: a cold build
    shutil.rmtree(root / "out", ignore_errors=True)
    run([chalice, "package", "out"], env, cwd=root)
    return root / "out" / "deployment.zip"


def uv_zip(root: Path, work: Path, env: dict[str, str]) -> Path:
    """The issue's reference: `uv pip install --target` (uv's cache warm) then `zip -r`, the handler added."""
    shutil.rmtree(work, ignore_errors=True)
    platform = uv_platform(get_runtime("python3.12"), "x86_64")
    uv = [sys.executable, "-m", "uv", "pip", "install", "-q", "--target", str(work / "site"), "--link-mode", "copy"]
    run([*uv, "--python-version", PYTHON, "--python-platform", platform, "-r", str(root / "requirements.txt")], env)
    run(["zip", "-r", "-q", str(work / "uv.zip"), "."], env, cwd=work / "site")
    run(["zip", "-q", str(work / "uv.zip"), "app.py"], env, cwd=root)
    return work / "uv.zip"


def tool_env(env: dict[str, str], tools_bin: Path | None, tmp: Path) -> dict[str, str]:
    """SAM's pip workflow wants python3.12 on PATH: link the one lpack finds."""
    found = find_interpreter((3, 12))
    if found is None:
        raise SystemExit("error: no python3.12 on this machine for sam build")
    links = tmp / "bin"
    links.mkdir(exist_ok=True)
    (links / "python3.12").symlink_to(found)
    extra = [str(links), *([str(tools_bin)] if tools_bin else [])]
    path = os.pathsep.join([*extra, env.get("PATH", "")])
    # Chalice names a region in what it generates; nothing is sent anywhere.
    return {
        **env,
        "PATH": path,
        "SAM_CLI_TELEMETRY": "0",
        "AWS_DEFAULT_REGION": env.get("AWS_DEFAULT_REGION", "us-east-1"),
    }


@dataclass(frozen=True, slots=True, kw_only=True)
class Result:
    name: str
    times: dict[str, float]  # what was timed -> median seconds
    sizes: dict[str, tuple[int, int]]  # artifact -> (zipped, unzipped)
    imports: dict[str, float]  # artifact -> median import seconds
    notes: tuple[str, ...]  # rows left out and why, what the S3 server held


@dataclass(slots=True)
class _Project:
    """One project's measurements as they are taken."""

    name: str
    tmp: Path
    env: dict[str, str]
    runs: int
    times: dict[str, float] = field(default_factory=dict)
    zips: dict[str, Path] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def timed(self, label: str, action: Callable[[int], object]) -> None:
        progress(f"{self.name}: {label} x{self.runs}")
        self.times[label] = median_time(action, self.runs)

    def note(self, message: str) -> None:
        progress(message)
        self.notes.append(message)


def bench(name: str, tmp: Path, env: dict[str, str], args: argparse.Namespace, s3_url: str | None) -> Result:
    p = _Project(name=name, tmp=tmp, env=env, runs=args.runs)
    root = make_project(tmp, name)
    progress(f"{name}: warm-up builds")
    lpack(root, tmp / f"{name}-warm", tmp / f"{name}-warm-cache", env)
    uv_zip(root, tmp / f"{name}-uv", env)
    lpack_rows(p, root)
    p.timed(UV, lambda _i: uv_zip(root, tmp / f"{name}-uv", env))
    p.zips["uv + zip -r"] = tmp / f"{name}-uv" / "uv.zip"
    changed = cache_rows(p, root, s3_url)
    other_tools(p, changed)
    progress(f"{name}: import times x{args.import_runs}")
    imports = {
        k: import_time(unpack(p.zips[k], tmp / f"{name}-task-{i}"), args.import_runs)
        for i, k in enumerate(("lpack", BYTECODE_ONLY, "sam"))
        if k in p.zips
    }
    sized = {k: sizes(z) for k, z in p.zips.items()}
    return Result(name=name, times=p.times, sizes=sized, imports=imports, notes=tuple(p.notes))


def lpack_rows(p: _Project, root: Path) -> None:
    """Cold (empty lpack cache), no-change and code-only rebuilds (CLI and in-process), and bytecode = "only"."""
    tmp, name, env = p.tmp, p.name, p.env
    p.timed(COLD, lambda i: lpack(root, tmp / f"{name}-out{i}", tmp / f"{name}-cache{i}", env))
    p.zips["lpack"] = tmp / f"{name}-out0" / f"{name}.zip"
    out, cache = tmp / f"{name}-out0", tmp / f"{name}-cache0"
    p.timed(NO_CHANGE, lambda _i: lpack(root, out, cache, env))
    app, original = root / "app.py", (root / "app.py").read_text()

    def edit_and_build(i: int) -> None:
        app.write_text(f"{original}\nBUILD = {i}\n")  # microseconds: left inside the timing
        lpack(root, out, cache, env)

    p.timed(CODE_ONLY, edit_and_build)
    app.write_text(original)
    progress(f"{name}: no-change and code-only in-process (bench_rebuild), x{max(p.runs, 5)}")
    with _environ({**env, "LPACK_CACHE_DIR": str(cache)}):
        rebuilds = rebuild_times(root, max(p.runs, 5), tmp / f"{name}-inprocess-out")
    p.times[NO_CHANGE_IN_PROCESS] = statistics.median(rebuilds["no-change"])
    p.times[CODE_ONLY_IN_PROCESS] = statistics.median(rebuilds["code-only"])
    only = make_project(tmp, name, variant="-only", settings='bytecode = "only"\n')
    p.timed(f"{BYTECODE_ONLY}, cold", lambda i: lpack(only, tmp / f"{name}-only{i}", tmp / f"{name}-oc{i}", env))
    p.zips[BYTECODE_ONLY] = tmp / f"{name}-only0" / f"{name}.zip"
    source = make_project(tmp, name, variant="-source", settings='bytecode = "none"\n')
    progress(f'{name}: one build with bytecode = "none", for its size')
    lpack(source, tmp / f"{name}-source-out", tmp / f"{name}-source-cache", env)
    p.zips[SOURCE_ONLY] = tmp / f"{name}-source-out" / f"{name}.zip"


def cache_rows(p: _Project, root: Path, s3_url: str | None) -> Path:
    """A new lock with its wheels cached (and uv + zip of it); the warm-S3 row. Returns the changed project."""
    changed = bench_cache.new_lock(p.name, p.tmp, p.env, p.runs, p.timed)
    uv_zip(changed, p.tmp / f"{p.name}-uvnl", p.env)  # warm-up: the added package into uv's cache
    p.timed(UV_NEW_LOCK, lambda _i: uv_zip(changed, p.tmp / f"{p.name}-uvnl", p.env))
    if s3_url is not None:
        p.note(bench_cache.warm_s3(p.name, root, tmp=p.tmp, env=p.env, url=s3_url, timed=p.timed))
    return changed


def other_tools(p: _Project, changed: Path) -> None:
    """sam build (the project and its new lock) and chalice package, each when found."""
    new_lock = (changed / "requirements.txt").read_text()
    others: list[tuple[str, str, Callable[[], Path], Callable[[str, Path, dict[str, str]], Path]]] = [
        ("sam", SAM, lambda: sam_project(p.tmp, p.name), sam_build),
        ("sam", SAM_NEW_LOCK, lambda: sam_project(p.tmp, p.name, variant="-nl", requirements=new_lock), sam_build),
        ("chalice", CHALICE, lambda: chalice_project(p.tmp, p.name), chalice_package),
    ]
    for tool, label, make, build in others:
        exe = shutil.which(tool, path=p.env["PATH"])
        if exe is None:
            p.note(f"{p.name}: no `{tool}` on PATH or in --tools-bin: {label!r} left out")
            continue
        project = make()
        build(exe, project, p.env)  # warm-up: pip's cache

        def again(_i: int, exe: str = exe, project: Path = project, build: Callable[..., Path] = build) -> None:
            build(exe, project, p.env)

        p.timed(label, again)
        if label != SAM_NEW_LOCK:
            p.zips[tool] = build(exe, project, p.env)


@contextlib.contextmanager
def _environ(env: dict[str, str]) -> Iterator[None]:
    """This process's environment replaced by env for the in-process builds (same sources as the CLI's)."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


_RATIOS = (
    ("chalice package / lpack cold (speed-up)", CHALICE, COLD),
    ("sam build / lpack no-change (speed-up)", SAM, NO_CHANGE),
)


def render(results: Sequence[Result]) -> str:
    names = [r.name for r in results]
    lines = [f"python3.12/x86_64 from PyPI, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}", ""]
    labels = list(dict.fromkeys(k for r in results for k in r.times))
    lines += table([["median wall time", *names]] + [[k, *(_s(r.times.get(k)) for r in results)] for k in labels])
    other = [[label, *(_ratio(r.times, a, b) for r in results)] for label, a, b in _RATIOS]
    lines += ["", *table([["other ratios", *names], *other]), ""]
    rows = [["zipped / unzipped", *names]]
    for k in dict.fromkeys(k for r in results for k in r.sizes):
        rows.append(
            [k, *(f"{human(r.sizes[k][0])} / {human(r.sizes[k][1])}" if k in r.sizes else "-" for r in results)]
        )
    lines += table(rows)
    rows = [["handler import (read-only)", *names]]
    for k in dict.fromkeys(k for r in results for k in r.imports):
        rows.append([k, *(f"{r.imports[k] * 1000:.0f} ms" if k in r.imports else "-" for r in results)])
    lines += ["", *table(rows)]
    notes = [n for r in results for n in r.notes]
    lines += ["", *(["notes:", *(f"  {n}" for n in notes), ""] if notes else [])]
    return "\n".join([*lines, "goals (issue 15)", *render_goals(results)])


def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f} s"


def _ratio(values: dict[str, float], a: str, b: str) -> str:
    return f"{values[a] / values[b]:.2f}" if a in values and b in values else "-"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=3, help="timed builds per measurement (default: 3)")
    parser.add_argument("--import-runs", type=int, default=5, help="imports timed per tree (default: 5)")
    parser.add_argument("--only", choices=sorted(_PROJECTS), action="append", help="one project (repeatable)")
    parser.add_argument("--tools-bin", type=Path, help="directory holding `sam` and `chalice`")
    parser.add_argument("--quick", action="store_true", help="smoke check: 1 run, one project (web, or --only)")
    args = parser.parse_args(argv)
    projects = args.only or list(_PROJECTS)
    if args.quick:
        args.runs, args.import_runs, projects = 1, 1, projects[:1] if args.only else ["web"]
    with tempfile.TemporaryDirectory(prefix="lpack-tools-") as name, contextlib.ExitStack() as stack:
        tmp = Path(name)
        env = tool_env(bench_env(), args.tools_bin, tmp)
        missing = bench_cache.s3_missing()
        s3_url = None if missing else stack.enter_context(bench_cache.s3_server(tmp))
        try:
            results = [bench(p, tmp, env, args, s3_url) for p in projects]
        except BenchError as err:
            print(f"error: build failed, {err}\n{err.output.rstrip()}", file=sys.stderr)
            return 1
        if missing:
            print(f"note: {missing}")
        print(render(results))
        for path in tmp.rglob("*"):  # read-only trees: let the temporary directory go
            if path.is_dir() and not path.is_symlink():
                path.chmod(0o755)
    return 0


if __name__ == "__main__":
    sys.exit(main())
