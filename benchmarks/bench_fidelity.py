"""Time the audit and the init phase `lpack verify` measures, each next to a naive baseline.

    python benchmarks/bench_fidelity.py [--runs N]

Audit: lpack's audit over this interpreter's site-packages (every file, every ELF header parsed with
pyelftools) against the shell recipe of running `readelf -h -V` once per ELF file. Both are timed once.
Init: a handler that imports rich (a real package of about 80 modules, already installed next to lpack) is
zipped twice, once with lpack's unchecked-hash pyc for this interpreter's version and once with sources
only (what `pip install -t` + `zip -r` ships once the stale pyc are dropped); `lpack verify` imports the
handler from each `--runs` times, and the medians are printed. Runs offline; needs `readelf` for the
audit baseline (skipped without it).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from lpack.audit.checks import audit
from lpack.bytecode import compile_tree
from lpack.emit import get_emitter
from lpack.runtimes import get_runtime
from lpack.staging.tree import StagingTree, scan
from lpack.tools.verify import verify

_RUNTIME = get_runtime(f"python{sys.version_info[0]}.{sys.version_info[1]}")
_PACKAGES = ("rich", "pygments", "markdown_it", "mdurl")  # rich and what it imports
_APP = "import rich.console\nimport rich.table\n\n\ndef handler(event, context):\n    return rich.__name__\n"


def bench_audit(site: Path) -> list[str]:
    tree = scan(site, "deps")
    start = time.perf_counter()
    report = audit(tree, _RUNTIME, "x86_64")
    ours = time.perf_counter() - start
    codes = Counter(f.code for f in report.findings)
    lines = [
        f"audit of {site.name}: {len(tree)} files, {tree.unzipped_bytes / 1e6:.1f} MB, {report.elf_files} ELF",
        f"  lpack audit          {ours:7.2f} s   findings for {_RUNTIME.name}/x86_64: {dict(codes) or 'none'}",
    ]
    readelf = shutil.which("readelf")
    if readelf is None:
        return [*lines, "  readelf per file     (no readelf here)"]
    elf = [e.source for e in tree if e.source.open("rb").read(4) == b"\x7fELF"]
    start = time.perf_counter()
    for path in elf:
        subprocess.run([readelf, "-h", "-V", str(path)], capture_output=True, check=False)
    return [*lines, f"  readelf per file     {time.perf_counter() - start:7.2f} s   (headers only; no verdict)"]


def _zip(tree: StagingTree, out: Path) -> Path:
    get_emitter("zip").emit(tree, out)
    return out


def bench_init(site: Path, tmp: Path, runs: int) -> list[str]:
    src = tmp / "src"
    for name in _PACKAGES:
        shutil.copytree(site / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
    (src / "app.py").write_text(_APP)
    plain = scan(src, "code")
    compiled, result = compile_tree(plain, _RUNTIME, tmp / "pyc", root="/var/task")
    lines = [f"init of app.handler importing rich ({len(plain)} files, {result.compiled} pyc), median of {runs}:"]
    for label, tree in (("lpack (hash pyc)", compiled), ("sources only", plain)):
        artifact = _zip(tree, tmp / f"{label.split()[0]}.zip")
        times = [verify(artifact, handler="app.handler", runtime=_RUNTIME).init_ms for _ in range(runs)]
        lines.append(f"  {label:20} {statistics.median(times):7.1f} ms")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=5, help="verify runs per zip (default: 5)")
    args = parser.parse_args(argv)
    site = Path(sysconfig.get_paths()["purelib"])
    with tempfile.TemporaryDirectory(prefix="lpack-bench-") as tmp:
        for line in [*bench_audit(site), *bench_init(site, Path(tmp), max(1, args.runs))]:
            print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
