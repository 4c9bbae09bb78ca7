"""Time lpack's start-up, each in a fresh process as a user runs it (issue 15: a no-change rebuild in 0.25 s).

    python benchmarks/bench_startup.py [--runs N]

Prints the median and minimum wall time, and the median CPU time (user + system: steadier on a busy machine),
of `lpack --version`, of `python -c "import lpack"`, and of `lpack build -q` on a copy of fixtures/projects/hello
that is already built (a no-change rebuild: the cached result stands in). The `lpack` console script beside this
interpreter is used when there is one, else `python -m lpack`. The cache is a fresh temporary directory
(LPACK_CACHE_DIR); the build is offline.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def lpack_command() -> list[str]:
    script = Path(sys.executable).with_name("lpack")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "lpack"]


def _cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def timed(argv: Sequence[str], env: Mapping[str, str], runs: int) -> tuple[list[float], list[float]]:
    """Wall and CPU seconds of each of `runs` runs of `argv`."""
    wall, cpu = [], []
    for _ in range(runs):
        start, cpu_start = time.perf_counter(), _cpu()
        subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL)
        wall.append(time.perf_counter() - start)
        cpu.append(_cpu() - cpu_start)
    return wall, cpu


def hello_project(root: Path) -> Path:
    # The fixture's find-links is "../../wheels": keep that layout beside the copy.
    project = root / "projects" / "hello"
    shutil.copytree(FIXTURES / "projects" / "hello", project, ignore=shutil.ignore_patterns("dist"))
    (root / "wheels").symlink_to(FIXTURES / "wheels", target_is_directory=True)
    return project


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    lpack = lpack_command()
    with tempfile.TemporaryDirectory(prefix="lpack-bench-") as tmp:
        env = {**os.environ, "LPACK_CACHE_DIR": str(Path(tmp) / "cache")}
        project = hello_project(Path(tmp))
        build = [*lpack, "build", "-q", str(project)]
        subprocess.run(build, env=env, check=True)  # the first build, which the rebuilds reuse
        cases = {
            "lpack --version": [*lpack, "--version"],
            "import lpack": [sys.executable, "-c", "import lpack"],
            "no-change rebuild": build,
        }
        print(f"{' '.join(lpack)}  (n={args.runs})")
        for name, argv in cases.items():
            wall, cpu = timed(argv, env, args.runs)
            median, low, cpu_median = (1000 * f for f in (statistics.median(wall), min(wall), statistics.median(cpu)))
            print(f"{name:18}  median {median:5.0f} ms  min {low:5.0f} ms  cpu median {cpu_median:5.0f} ms")


if __name__ == "__main__":
    main()
