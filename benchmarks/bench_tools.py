"""lpack beside `sam build`, `chalice package` and `uv pip install --target` + `zip -r`: same projects, same run.

    python benchmarks/bench_tools.py [--runs N] [--import-runs N] [--only NAME] [--tools-bin DIR]

The suite's projects (web, data, crypto: python3.12/x86_64 from PyPI, see bench_suite.py). `sam` (aws-sam-cli,
its default builder, no container) and `chalice` are taken from --tools-bin or PATH, and rows for a missing one
are left out; install both with `python3.12 -m venv TOOLS && TOOLS/bin/pip install aws-sam-cli chalice`.
Every tool has its package manager's cache warm (one untimed warm-up build each) and its own build cache empty:
lpack gets a fresh cache directory per cold run, SAM a fresh build directory (no --cached), Chalice's
deployment cache is removed. Each time includes making the zip (`zip -r` of `.aws-sam/build/Fn` for SAM).
Prints median wall times, the issue's goal ratios, zipped/unzipped sizes, and the handler's import time from
each unpacked, read-only artifact (lpack default, lpack `bytecode = "only"`, SAM).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from bench_build import BenchError, bench_env, human, run, table
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


def sam_project(tmp: Path, name: str) -> Path:
    wanted, app = _PROJECTS[name]
    root = tmp / f"sam-{name}"
    (root / "src").mkdir(parents=True)
    (root / "template.yaml").write_text(_SAM_TEMPLATE)
    (root / "src" / "app.py").write_text(app)
    (root / "src" / "requirements.txt").write_text(wanted)
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


def bench(name: str, tmp: Path, env: dict[str, str], args: argparse.Namespace) -> Result:
    runs = args.runs
    times: dict[str, float] = {}
    zips: dict[str, Path] = {}
    root = make_project(tmp, name)
    only = make_project(tmp, name, variant="-only", settings='bytecode = "only"\n')
    progress(f"{name}: warm-up builds")
    lpack(root, tmp / f"{name}-warm", tmp / f"{name}-warm-cache", env)
    uv_zip(root, tmp / f"{name}-uv", env)

    def timed(label: str, action: Callable[[int], object]) -> None:
        progress(f"{name}: {label} x{runs}")
        times[label] = median_time(action, runs)

    timed("lpack cold", lambda i: lpack(root, tmp / f"{name}-out{i}", tmp / f"{name}-cache{i}", env))
    zips["lpack"] = tmp / f"{name}-out0" / f"{name}.zip"
    out, cache = tmp / f"{name}-out0", tmp / f"{name}-cache0"
    timed("lpack no-change", lambda _i: lpack(root, out, cache, env))
    app, original = root / "app.py", (root / "app.py").read_text()

    def edit_and_build(i: int) -> None:
        app.write_text(f"{original}\nBUILD = {i}\n")  # microseconds: left inside the timing
        lpack(root, out, cache, env)

    timed("lpack code-only", edit_and_build)
    app.write_text(original)
    timed("lpack cold, bytecode only", lambda i: lpack(only, tmp / f"{name}-only{i}", tmp / f"{name}-oc{i}", env))
    zips["lpack, bytecode only"] = tmp / f"{name}-only0" / f"{name}.zip"
    timed("uv pip install --target + zip -r", lambda _i: uv_zip(root, tmp / f"{name}-uv", env))
    zips["uv + zip -r"] = tmp / f"{name}-uv" / "uv.zip"
    others: list[tuple[str, str, Callable[[Path, str], Path], Callable[[str, Path, dict[str, str]], Path]]] = [
        ("sam", "sam build + zip -r", sam_project, sam_build),
        ("chalice", "chalice package", chalice_project, chalice_package),
    ]
    for tool, label, make, build in others:
        exe = shutil.which(tool, path=env["PATH"])
        if exe is None:
            progress(f"{name}: no `{tool}` on PATH or in --tools-bin: left out")
            continue
        project = make(tmp, name)
        build(exe, project, env)  # warm-up: pip's cache

        def again(_i: int, exe: str = exe, project: Path = project, build: Callable[..., Path] = build) -> None:
            build(exe, project, env)

        timed(label, again)
        zips[tool] = build(exe, project, env)
    progress(f"{name}: import times x{args.import_runs}")
    imports = {
        k: import_time(unpack(zips[k], tmp / f"{name}-task-{i}"), args.import_runs)
        for i, k in enumerate(("lpack", "lpack, bytecode only", "sam"))
        if k in zips
    }
    return Result(name=name, times=times, sizes={k: sizes(z) for k, z in zips.items()}, imports=imports)


_GOALS = (
    ("lpack cold / (uv + zip -r)", "lpack cold", "uv pip install --target + zip -r", "≤ 1.0"),
    ("sam build / lpack cold (speed-up)", "sam build + zip -r", "lpack cold", "≥ 5"),
    ("chalice package / lpack cold (speed-up)", "chalice package", "lpack cold", ""),
    ("sam build / lpack no-change (speed-up)", "sam build + zip -r", "lpack no-change", ""),
)


def render(results: Sequence[Result]) -> str:
    names = [r.name for r in results]
    lines = [f"python3.12/x86_64 from PyPI, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}", ""]
    labels = list(dict.fromkeys(k for r in results for k in r.times))
    lines += table([["median wall time", *names]] + [[k, *(_s(r.times.get(k)) for r in results)] for k in labels])
    goals = [[label, *(_ratio(r.times, a, b) for r in results), goal] for label, a, b, goal in _GOALS]
    lines += ["", *table([["ratio", *names, "goal"], *goals])]
    lines += ["", "no-change goal ≤ 0.25 s, code-only ≤ 0.5 s (rows above)", ""]
    rows = [["zipped / unzipped", *names]]
    for k in dict.fromkeys(k for r in results for k in r.sizes):
        rows.append(
            [k, *(f"{human(r.sizes[k][0])} / {human(r.sizes[k][1])}" if k in r.sizes else "-" for r in results)]
        )
    lines += table(rows)
    rows = [["handler import (read-only)", *names]]
    for k in dict.fromkeys(k for r in results for k in r.imports):
        rows.append([k, *(f"{r.imports[k] * 1000:.0f} ms" if k in r.imports else "-" for r in results)])
    rows.append(
        ["bytecode only / sam (goal ≤ 0.5)", *(_ratio(r.imports, "lpack, bytecode only", "sam") for r in results)]
    )
    return "\n".join([*lines, "", *table(rows)])


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
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="lpack-tools-") as name:
        tmp = Path(name)
        env = tool_env(bench_env(), args.tools_bin, tmp)
        try:
            results = [bench(p, tmp, env, args) for p in (args.only or list(_PROJECTS))]
        except BenchError as err:
            print(f"error: build failed, {err}\n{err.output.rstrip()}", file=sys.stderr)
            return 1
        print(render(results))
        for path in tmp.rglob("*"):  # read-only trees: let the temporary directory go
            if path.is_dir() and not path.is_symlink():
                path.chmod(0o755)
    return 0


if __name__ == "__main__":
    sys.exit(main())
