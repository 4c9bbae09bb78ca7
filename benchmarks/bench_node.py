"""A Node.js Express API three ways: lpack bundled (esbuild), lpack unbundled (npm ci + prune), `sam build`.

    python benchmarks/bench_node.py [--runs N] [--sam PATH]

Generates a CommonJS Express handler (express + serverless-http from the npm registry, with a lock), then for
each way: median build time over --runs builds after one untimed warm-up (lpack's cache and npm's cache warm),
zip size, file count, and the median time to `require` the handler from the unzipped artifact in a fresh `node`
(--runs times). Each timed build follows a one-line change to the handler (no cached result can stand in).
`sam build` runs with `BuildMethod: esbuild` (minify) when `sam` is found (--sam, or on PATH),
with lpack's pinned esbuild on PATH, and its .aws-sam/build directory is zipped with lpack's deterministic
writer for the size. Needs the npm registry; nothing is written outside a temporary directory.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from lpack.archive.writer import write_zip
from lpack.cache import Cache
from lpack.resolve.esbuild import find_esbuild
from lpack.staging.tree import scan

HANDLER = """const express = require("express");
const serverless = require("serverless-http");

const app = express();
app.use(express.json());
app.get("/items/:id", (req, res) => res.json({ id: req.params.id, ok: true }));
app.post("/items", (req, res) => res.status(201).json(req.body));

exports.handler = serverless(app);
"""

PACKAGE = {
    "name": "express-api",
    "version": "1.0.0",
    "private": True,
    "dependencies": {"express": "^4.21.2", "serverless-http": "^3.2.0"},
}

SAM_TEMPLATE = """AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Resources:
  Api:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: .
      Handler: index.handler
      Runtime: nodejs20.x
      Architectures: [x86_64]
    Metadata:
      BuildMethod: esbuild
      BuildProperties:
        Minify: true
        Target: es2020
        EntryPoints: [index.js]
"""

REQUIRE = (
    "const t = process.hrtime.bigint(); require(process.argv[1]);console.log(Number(process.hrtime.bigint() - t) / 1e6)"
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Row:
    way: str
    build_s: float
    cpu_s: float
    zipped: int
    files: int
    require_ms: float


def _run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> None:
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"$ {' '.join(cmd)}\n{done.stdout}{done.stderr}")


def _project(root: Path, lpack_toml: str) -> Path:
    root.mkdir(parents=True)
    (root / "index.js").write_text(HANDLER)
    (root / "package.json").write_text(json.dumps(PACKAGE, indent=2))
    (root / "lpack.toml").write_text(lpack_toml)
    (root / "template.yaml").write_text(SAM_TEMPLATE)
    _run(["npm", "install", "--package-lock-only", "--no-audit", "--no-fund", "--loglevel=error"], root)
    return root


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _timed(build: Callable[[], Path], root: Path, runs: int) -> tuple[float, float, Path]:
    # Wall time, and the CPU time of the processes it ran: on a shared machine the second is the steadier.
    # Each timed build follows a one-line code change, so no tool can stand in a previous result.
    build()  # warm-up: caches filled
    times, cpu, artifact = [], [], Path()
    for run in range(runs):
        with (root / "index.js").open("a") as fh:
            fh.write(f"// change {run}\n")
        start, start_cpu = time.perf_counter(), _children_cpu()
        artifact = build()
        times.append(time.perf_counter() - start)
        cpu.append(_children_cpu() - start_cpu)
    return statistics.median(times), statistics.median(cpu), artifact


def _unzipped(zip_path: Path, work: Path) -> tuple[Path, int]:
    task = work / f"task-{zip_path.stem}"
    shutil.rmtree(task, ignore_errors=True)
    with zipfile.ZipFile(zip_path) as zf:
        zf.extractall(task)
        return task, sum(1 for n in zf.namelist() if not n.endswith("/"))


def _require_ms(modules: list[Path], runs: int) -> list[float]:
    # Interleaved (one of each, `runs` rounds), so a busy moment of the machine hits every way alike.
    samples: list[list[float]] = [[] for _ in modules]
    for _ in range(runs):
        for i, module in enumerate(modules):
            out = subprocess.run(["node", "-e", REQUIRE, str(module)], capture_output=True, text=True, check=True)
            samples[i].append(float(out.stdout.strip()))
    return [statistics.median(s) for s in samples]


def _lpack(root: Path, out: Path) -> Callable[[], Path]:
    def build() -> Path:
        _run([sys.executable, "-m", "lpack", "-q", "build", str(root), "--out", str(out)], root)
        return out / f"{root.name}.zip"  # the function is named after its directory

    return build


def _sam(sam: str, root: Path, esbuild_dir: Path, work: Path) -> Callable[[], Path]:
    env = {**os.environ, "PATH": f"{esbuild_dir}{os.pathsep}{os.environ['PATH']}", "SAM_CLI_TELEMETRY": "0"}

    def build() -> Path:
        _run([sam, "build"], root, env)
        out = work / "sam.zip"
        write_zip(scan(root / ".aws-sam" / "build" / "Api", "code"), out)
        return out

    return build


def _esbuild_dir(work: Path) -> Path:
    found = find_esbuild(Cache.default().root)
    link = work / "esbuild-bin"
    link.mkdir(exist_ok=True)
    (link / "esbuild").unlink(missing_ok=True)
    (link / "esbuild").symlink_to(found.path)
    return link


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sam", default=shutil.which("sam"))
    args = parser.parse_args()
    built: list[tuple[str, float, float, Path]] = []
    with tempfile.TemporaryDirectory(prefix="bench-node-") as tmp:
        work = Path(tmp)
        ways = {
            "lpack bundled": 'runtime = "nodejs20.x"\nhandler = "index.handler"\nbundle = true\n',
            "lpack unbundled": 'runtime = "nodejs20.x"\nhandler = "index.handler"\n',
        }
        for way, config in ways.items():
            root = _project(work / way.replace(" ", "-"), config)
            built.append((way, *_timed(_lpack(root, work / f"out-{way.replace(' ', '-')}"), root, args.runs)))
        if args.sam:
            root = _project(work / "sam", 'runtime = "nodejs20.x"\nhandler = "index.handler"\n')
            _run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], root)  # SAM's esbuild build needs it
            built.append(
                ("sam build (esbuild)", *_timed(_sam(args.sam, root, _esbuild_dir(work), work), root, args.runs))
            )
        tasks = [_unzipped(artifact, work) for _, _, _, artifact in built]
        require = _require_ms([task / "index.js" for task, _ in tasks], max(args.runs, 15))
        rows = [
            Row(way=way, build_s=wall, cpu_s=cpu, zipped=artifact.stat().st_size, files=files, require_ms=ms)
            for (way, wall, cpu, artifact), (_, files), ms in zip(built, tasks, require, strict=True)
        ]
    _print(rows)
    return 0


def _print(rows: list[Row]) -> None:
    print(f"{'way':<22} {'build s':>8} {'cpu s':>6} {'zip KB':>8} {'files':>6} {'require ms':>11}")
    for r in rows:
        print(
            f"{r.way:<22} {r.build_s:>8.2f} {r.cpu_s:>6.2f} {r.zipped / 1000:>8.1f} {r.files:>6} {r.require_ms:>11.1f}"
        )


if __name__ == "__main__":
    raise SystemExit(main())
