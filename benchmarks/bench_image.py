"""Image builds against a local docker-registry: cold, no-change and code-change rebuilds with --push.

python benchmarks/bench_image.py [--base-mb N]   (needs docker-registry and skopeo; everything on 127.0.0.1)

Prints wall time, the image digest, each layer's size, and what each push sent. The naive baseline is
`tar -czf` of two fresh copies of the project: its digest follows file times, so every CI build redeploys.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.conftest import copy_project  # noqa: E402
from tests.integration._oci import make_base, push_base, run_registry  # noqa: E402


def _build(project: Path, target: str) -> tuple[float, dict[str, Any]]:
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "lpack", "build", str(project), "--json", "--push", target],
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - start
    if proc.returncode:
        sys.exit(proc.stderr)
    image: dict[str, Any] = json.loads(proc.stdout)["artifacts"][0]["image"]
    return elapsed, image


def _row(label: str, elapsed: float, image: dict[str, Any]) -> None:
    layers = "  ".join(f"{la['origin']} {la['bytes']:,}/{la['uncompressed_bytes']:,}" for la in image["layers"])
    push = image["push"]
    sent = f"uploaded {push['uploaded']} mounted {push['mounted']} present {push['present']}"
    print(f"{label:<22} {elapsed:6.2f} s  {image['digest'][:19]}  {sent}  [{layers}]")


def _naive_digest(project: Path, out: Path) -> str:
    # A fresh copy (new mtimes), as a new checkout or CI runner has, then tar -czf as a hand-written step would.
    copy = out.with_suffix(".src")
    subprocess.run(["cp", "-r", str(project), str(copy)], check=True)
    subprocess.run(["tar", "-czf", str(out), "-C", str(copy), "."], check=True)
    return "sha256:" + hashlib.sha256(out.read_bytes()).hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base-mb", type=int, default=100, help="size of the synthetic base layer [100]")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="lpack-bench-") as tmp:
        work = Path(tmp)
        base = make_base(work / "base", filler=args.base_mb << 20)
        with run_registry(work / "registry") as registry:
            ref = push_base(base, registry, "lambda/python:3.12")
            project = copy_project("hello", work)
            config = project / "pyproject.toml"
            config.write_text(
                config.read_text().replace(
                    'handler = "app.handler"', f'handler = "app.handler"\nformat = "image"\nbase = "{ref}"'
                )
            )
            target = f"{registry.host}/fn/hello:bench"
            print(f"base: {args.base_mb} MB incompressible layer, linux/arm64; registry {registry.host}")
            _row("cold (download base)", *_build(project, target))
            time.sleep(2)
            _row("no change", *_build(project, target))
            with (project / "app.py").open("a") as fh:
                fh.write("\n# changed\n")
            _row("code change", *_build(project, target))
            first = _naive_digest(project, work / "a.tgz")
            time.sleep(2)
            second = _naive_digest(project, work / "b.tgz")
            verdict = "same" if first == second else "differ"
            print(f"naive tar -czf of two fresh copies: {first[:19]} vs {second[:19]} ({verdict})")


if __name__ == "__main__":
    main()
