"""Time lpack against the hand-written `pip install -t DIR` + `zip -r` recipe on one Lambda project.

    python benchmarks/bench_build.py [--offline] [--runs N]

By default a generated project (requests + pydantic, python3.12/x86_64) is installed from PyPI; with
--offline, fixtures/projects/hello (python3.12/arm64) is installed from fixtures/wheels. Prints median wall
times, zip and unzipped sizes, file counts, whether consecutive builds are byte-identical, and lpack/baseline
ratios. Standard library only, so it runs in any environment where lpack is installed.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FIXTURE = REPO / "fixtures" / "projects" / "hello"

# Package sources outside the project's own config. The machine's pip config is dropped with
# PIP_CONFIG_FILE; these variables would still add or replace indexes, and lpack carries the PIP_ ones over
# to uv, so both sides are measured against the same source: PyPI, or the fixture wheelhouse offline.
_SOURCE_VARS = frozenset(
    {
        "PIP_FIND_LINKS",
        "PIP_CONSTRAINT",
        "PIP_INDEX_URL",
        "PIP_EXTRA_INDEX_URL",
        "PIP_NO_INDEX",
        "UV_FIND_LINKS",
        "UV_CONSTRAINT",
        "UV_INDEX",
        "UV_INDEX_URL",
        "UV_DEFAULT_INDEX",
        "UV_EXTRA_INDEX_URL",
        "UV_NO_INDEX",
    }
)

# Zip stores times in 2 s steps: builds closer together can share every timestamp and match by luck
# (the same jitter pex's reproducibility tests use).
_GAP_SECONDS = 2.0

_GENERATED_APP = """\
import pydantic
import requests


class Reply(pydantic.BaseModel):
    requests_version: str


def handler(event, context):
    return Reply(requests_version=requests.__version__).model_dump()
"""

_GENERATED_PYPROJECT = """\
[project]
name = "bench-app"
version = "1.0"

[tool.lpack]
runtime = "python3.12"
architecture = "x86_64"
handler = "app.handler"
requirements = "requirements.txt"
"""


class BenchError(Exception):
    """A build command failed: carries what ran and what it printed."""

    def __init__(self, cmd: Sequence[str], proc: subprocess.CompletedProcess[str]) -> None:
        super().__init__(f"exit {proc.returncode}: {' '.join(cmd)}")
        self.output = proc.stdout + proc.stderr


@dataclass(frozen=True, slots=True, kw_only=True)
class Project:
    root: Path
    handler: Path  # the file the baseline zips next to its dependencies
    requirements: Path
    pip_args: tuple[str, ...]  # the baseline's target and index flags
    description: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Sample:
    seconds: float
    sha256: str
    zipped: int
    unzipped: int
    files: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Row:
    name: str
    samples: tuple[Sample, ...]
    compared: tuple[Sample, ...]  # builds whose zips should all be identical

    @property
    def seconds(self) -> float:
        return statistics.median(s.seconds for s in self.samples)

    @property
    def zipped(self) -> int:
        return int(statistics.median_low(s.zipped for s in self.samples))

    def identical(self) -> str:
        if len(self.compared) < 2:
            return "n/a (1 build)"
        distinct = len({s.sha256 for s in self.compared})
        return "yes" if distinct == 1 else f"no ({distinct} of {len(self.compared)} differ)"


def _target_args(platform: str) -> tuple[str, ...]:
    # Foreign-target flags, so the baseline installs the same wheels for Lambda that lpack does.
    return ("--platform", platform, "--only-binary", ":all:", "--python-version", "3.12", "--implementation", "cp")


def generated_project(tmp: Path) -> Project:
    root = tmp / "bench-app"
    root.mkdir()
    (root / "app.py").write_text(_GENERATED_APP)
    (root / "requirements.txt").write_text("requests\npydantic\n")
    (root / "pyproject.toml").write_text(_GENERATED_PYPROJECT)
    return Project(
        root=root,
        handler=root / "app.py",
        requirements=root / "requirements.txt",
        pip_args=_target_args("manylinux2014_x86_64"),
        description="generated (requests, pydantic) for python3.12/x86_64 from PyPI",
    )


def fixture_project(tmp: Path) -> Project:
    root = tmp / FIXTURE.name
    shutil.copytree(FIXTURE, root, ignore=shutil.ignore_patterns("dist", "__pycache__"))
    links = absolute_find_links(root / "pyproject.toml", FIXTURE)
    index = ("--no-index", *(arg for link in links for arg in ("--find-links", str(link))))
    return Project(
        root=root,
        handler=root / "app.py",
        requirements=root / "requirements.txt",
        pip_args=(*_target_args("manylinux2014_aarch64"), *index),
        description=f"{FIXTURE.relative_to(REPO)} for python3.12/arm64, --no-index from "
        + ", ".join(str(link.relative_to(REPO)) for link in links),
    )


def absolute_find_links(config: Path, origin: Path) -> list[Path]:
    """Rewrite `find-links` in the copied config to absolute paths, resolved from the original project."""
    # A regex rather than tomllib, which Python 3.10 lacks; the fixture's list is one line of strings.
    match = re.search(r"^(\s*find-links\s*=\s*)\[([^\]]*)\]", config.read_text(), re.MULTILINE)
    if match is None:
        raise SystemExit(f"error: {config.name}: no find-links list to make absolute")
    links = [(origin / value).resolve() for value in re.findall(r'"([^"]*)"', match.group(2))]
    listed = "[" + ", ".join(json.dumps(str(link)) for link in links) + "]"
    text = match.string
    config.write_text(text[: match.start()] + match.group(1) + listed + text[match.end() :])
    return links


def bench_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _SOURCE_VARS}
    env["PIP_CONFIG_FILE"] = os.devnull  # pip reads no config file at all when this names the null device
    env["UV_NO_CONFIG"] = "1"  # the same for uv's uv.toml files
    return env


def run(cmd: Sequence[str], env: dict[str, str], cwd: Path | None = None) -> None:
    proc = subprocess.run(list(cmd), env=env, cwd=cwd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise BenchError(cmd, proc)


def measure(path: Path, seconds: float) -> Sample:
    with zipfile.ZipFile(path) as archive:
        files = [info for info in archive.infolist() if not info.is_dir()]
    return Sample(
        seconds=seconds,
        sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
        zipped=path.stat().st_size,
        unzipped=sum(info.file_size for info in files),
        files=len(files),
    )


def lpack_build(project: Project, out: Path, env: dict[str, str]) -> Path:
    run([sys.executable, "-m", "lpack", "build", str(project.root), "--out", str(out)], env)
    zips = sorted(out.glob("*.zip"))
    if len(zips) != 1:
        raise SystemExit(f"error: expected one zip in {out}, found {[z.name for z in zips]}")
    return zips[0]


def baseline_build(project: Project, work: Path, env: dict[str, str]) -> Path:
    target, out = work / "package", work / "function.zip"
    pip = [sys.executable, "-m", "pip", "install", "-t", str(target), "-r", str(project.requirements)]
    run([*pip, *project.pip_args], env)
    zip_tool = shutil.which("zip")
    if zip_tool is None:
        shutil.copy2(project.handler, target / project.handler.name)
        shutil.make_archive(str(out.with_suffix("")), "zip", root_dir=target)
    else:
        # AWS's own recipe: zip the dependencies from inside their directory, then add the handler.
        run([zip_tool, "-r", "-q", str(out), "."], env, cwd=target)
        run([zip_tool, "-q", str(out), project.handler.name], env, cwd=project.handler.parent)
    return out


def timed(build: Callable[[], Path]) -> Sample:
    time.sleep(_GAP_SECONDS)
    start = time.perf_counter()
    path = build()
    return measure(path, time.perf_counter() - start)


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def bench_lpack(project: Project, tmp: Path, env: dict[str, str], runs: int) -> tuple[Row, Row]:
    progress("lpack: warm-up build (fills uv's cache)")
    lpack_build(project, tmp / "lpack-warmup", env)
    cold: list[Sample] = []
    rebuild: list[Sample] = []
    for i in range(runs):
        progress(f"lpack: run {i + 1}/{runs}, cold then no-change rebuild")
        build = functools.partial(lpack_build, project, tmp / f"lpack-{i}", env)
        cold.append(timed(build))  # a fresh output directory
        rebuild.append(timed(build))  # the same directory, nothing changed
    return (
        Row(name="lpack cold", samples=tuple(cold), compared=tuple(cold)),
        Row(name="lpack rebuild", samples=tuple(rebuild), compared=(*cold, *rebuild)),
    )


def bench_baseline(project: Project, tmp: Path, env: dict[str, str], runs: int) -> Row:
    progress("baseline: warm-up build (fills pip's cache)")
    baseline_build(project, tmp / "baseline-warmup", env)
    samples: list[Sample] = []
    for i in range(runs):
        progress(f"baseline: run {i + 1}/{runs}")
        samples.append(timed(functools.partial(baseline_build, project, tmp / f"baseline-{i}", env)))
    return Row(name="pip -t + zip", samples=tuple(samples), compared=tuple(samples))


def human(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB"):
        if value < 1024:
            return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.2f} GiB"


def table(rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    # Names left-aligned, numbers right-aligned.
    cells = (
        (
            cell.ljust(width) if i == 0 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        )
        for row in rows
    )
    return ["  ".join(line).rstrip() for line in cells]


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "?"


def render(project: Project, rows: Sequence[Row], baseline: Row, runs: int) -> str:
    tools = f"lpack {_version('lpack')}, uv {_version('uv')}, pip {_version('pip')}, python {sys.version.split()[0]}"
    header = [
        f"project: {project.description}",
        f"tools:   {tools}, zip: {shutil.which('zip') or 'shutil.make_archive'}",
        f"runs:    {runs} each after one warm-up build; time is the median wall time",
        "",
    ]
    results = [["build", "time", "zip", "unzipped", "files", "identical"]] + [
        [
            row.name,
            f"{row.seconds:.2f} s",
            human(row.zipped),
            human(int(statistics.median_low(s.unzipped for s in row.samples))),
            str(statistics.median_low(s.files for s in row.samples)),
            row.identical(),
        ]
        for row in (*rows, baseline)
    ]
    ratios = [["lpack / baseline", "time", "zip"]] + [
        [
            row.name.removeprefix("lpack "),
            f"{row.seconds / baseline.seconds:.2f}x",
            f"{row.zipped / baseline.zipped:.2f}x",
        ]
        for row in rows
    ]
    return "\n".join([*header, *table(results), "", *table(ratios)])


def positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Time lpack against pip install -t + zip -r on one project.")
    parser.add_argument("--offline", action="store_true", help="build fixtures/projects/hello from fixtures/wheels")
    parser.add_argument("--runs", type=positive, default=3, help="timed builds per tool (default: 3)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    env = bench_env()
    with tempfile.TemporaryDirectory(prefix="lpack-bench-") as name:
        tmp = Path(name)
        project = fixture_project(tmp) if args.offline else generated_project(tmp)
        try:
            cold, rebuild = bench_lpack(project, tmp, env, args.runs)
            baseline = bench_baseline(project, tmp, env, args.runs)
        except BenchError as err:
            print(f"error: build failed, {err}\n{err.output.rstrip()}", file=sys.stderr)
            return 1
    print(render(project, (cold, rebuild), baseline, args.runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
