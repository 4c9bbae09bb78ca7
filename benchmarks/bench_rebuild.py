"""Time the two rebuilds the cache serves, inside one process (imports excluded), for issue 12's figures.

    python benchmarks/bench_rebuild.py [--runs N] [--requirements "boto3==1.35.0 requests pydantic"]

Builds a generated python3.12/x86_64 project (dependencies from PyPI) once into a fresh cache, then alternates
a no-change rebuild and a code-only rebuild (one line appended to the handler) N times (default 9) and prints
the median and minimum of each. Run it with two lpack checkouts' interpreters, interleaved, to compare them.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

PYPROJECT = """[project]
name = "bench-rebuild"
version = "1.0"

[tool.lpack]
runtime = "python3.12"
architecture = "x86_64"
handler = "app.handler"
requirements = "requirements.txt"
"""


def rebuild_times(root: Path, runs: int, out: Path | None = None) -> dict[str, list[float]]:
    """Seconds of each rebuild, alternated `runs` times, in this process; LPACK_CACHE_DIR names the cache to use.

    One untimed build first, so the first no-change rebuild finds its own output (in `out`, else the project's
    default). app.py is restored afterwards.
    """
    from lpack import Overrides, build, load_config  # noqa: PLC0415 (after LPACK_CACHE_DIR is set)

    overrides = Overrides(out_dir=out)

    app = root / "app.py"
    original = app.read_text()
    times: dict[str, list[float]] = {"no-change": [], "code-only": []}
    try:
        build(load_config(root, overrides))
        for i in range(runs):
            for kind, samples in times.items():
                if kind == "code-only":
                    app.write_text(f"{original}\nX = {i}\n")
                start = time.perf_counter()
                build(load_config(root, overrides))
                samples.append(time.perf_counter() - start)
    finally:
        app.write_text(original)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--requirements", default="boto3==1.35.0 requests pydantic")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="lpack-bench-") as tmp:
        os.environ["LPACK_CACHE_DIR"] = str(Path(tmp) / "cache")
        root = Path(tmp) / "project"
        root.mkdir()
        (root / "pyproject.toml").write_text(PYPROJECT)
        (root / "requirements.txt").write_text("\n".join(args.requirements.split()) + "\n")
        (root / "app.py").write_text("def handler(event, context):\n    return 1\n")
        for kind, samples in rebuild_times(root, args.runs).items():
            median, low = statistics.median(samples) * 1000, min(samples) * 1000
            print(f"{kind:9}  median {median:6.0f} ms  min {low:6.0f} ms  (n={args.runs})")


if __name__ == "__main__":
    main()
