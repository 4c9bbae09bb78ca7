"""Bytecode-only dependencies against source-only and source + .pyc: size and handler import time.

    python benchmarks/bench_bytecode.py [--only web|data|crypto] [--import-runs N]

Builds the suite's projects (python3.12/x86_64 from PyPI, see bench_suite.py) three times, with
`bytecode = "none"` (sources only), `"auto"` (sources + unchecked-hash pyc in __pycache__, the default) and
`"only"` (dependencies as sourceless .pyc), and prints the zipped and unzipped sizes and the median import time
of the handler from the unpacked, read-only artifact (`python3.12 -I -B`, fresh process), with the ratios the
performance issue sets goals for: unzipped bytecode-only / source-only (goal ≤ 1.1).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from bench_build import bench_env, human, table
from bench_suite import _PROJECTS, import_time, lpack, make_project, progress, sizes, unpack

MODES = {"source only": "none", "source + pyc": "auto", "bytecode only": "only"}


def bench(name: str, tmp: Path, env: dict[str, str], import_runs: int) -> list[list[str]]:
    measured: dict[str, tuple[int, int, float]] = {}
    for label, mode in MODES.items():
        progress(f"{name}: bytecode = {mode!r}")
        root = make_project(tmp, name, variant=f"-{mode}", settings=f'bytecode = "{mode}"\n')
        out = tmp / f"{name}-{mode}-out"
        lpack(root, out, tmp / "cache", env)
        zipped, unzipped = sizes(out / f"{name}.zip")
        measured[label] = (
            zipped,
            unzipped,
            import_time(unpack(out / f"{name}.zip", tmp / f"{name}-{mode}-task"), import_runs),
        )
    source = measured["source only"]
    return [
        [f"{name}: {label}", human(z), human(u), f"{u / source[1]:.2f}x", f"{t * 1000:.0f} ms", f"{t / source[2]:.2f}x"]
        for label, (z, u, t) in measured.items()
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--only", choices=sorted(_PROJECTS), action="append", help="one project (repeatable)")
    parser.add_argument("--import-runs", type=int, default=7, help="imports timed per tree (default: 7)")
    args = parser.parse_args(argv)
    env = bench_env()
    rows = [["artifact", "zipped", "unzipped", "vs source", "import", "vs source"]]
    with tempfile.TemporaryDirectory(prefix="lpack-bytecode-") as name:
        tmp = Path(name)
        for project in args.only or ["web"]:
            rows += bench(project, tmp, env, args.import_runs)
        for path in tmp.rglob("*"):  # read-only trees: let the temporary directory go
            if path.is_dir() and not path.is_symlink():
                path.chmod(0o755)
    print("\n".join(table(rows)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
