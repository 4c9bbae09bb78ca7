"""The performance issue's benchmark: three real projects, lpack against `pip install -t && zip -r`.

    python benchmarks/bench_suite.py [--runs N] [--import-runs N] [--only NAME]

Projects (python3.12/x86_64, packages from PyPI): web (fastapi, mangum, pydantic, requests), data (numpy,
pandas), crypto (boto3, cryptography). For each, in one run, it prints the median wall time of:

- cold: installer caches warm (a warm-up build first), lpack's cache empty, output directory fresh;
- no-change rebuild and code-only rebuild (app.py edited) with lpack's cache;
- the same recipe with pip: `pip install -t DIR` (pip's cache warm) then `zip -r`, which has no cache;
- the reference for the cold goal: `uv pip install --target` plus lpack's fastest zip of that tree;
- zipping the code alone, the reference for the code-only goal;

then sizes, and the handler's import time (`python3.12 -I`, fresh process, median) from the unpacked,
read-only artifact, against the same tree with timestamp pyc and every date set to 1980, as a fixed-date
zip unpacks. Last, a zip-writer micro-benchmark on the data project's tree. Standard library plus lpack.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from bench_build import bench_env, human, run, table

from lpack.archive import writer as _archive
from lpack.archive.deflate import COMPRESSIONS
from lpack.runtimes import get_runtime, uv_platform
from lpack.staging.tree import scan

PYTHON = "3.12"
_PLATFORMS = [f"manylinux_2_{minor}_x86_64" for minor in range(17, 35)]  # AL2023: glibc 2.34, every minor
_PROJECTS = {
    "web": (
        "fastapi\nmangum\npydantic\nrequests\n",
        "import fastapi, mangum, pydantic, requests\n\napp = fastapi.FastAPI()\n\n\n@app.get('/ping')\n"
        "def ping():\n    return {'ok': True}\n\n\nhandler = mangum.Mangum(app)\n",
    ),
    "data": (
        "numpy\npandas\n",
        "import numpy as np\nimport pandas as pd\n\n\ndef handler(event, context):\n"
        "    return {'sum': float(pd.Series(np.arange(10)).sum())}\n",
    ),
    "crypto": (
        "boto3\ncryptography\n",
        "import boto3\nfrom cryptography.fernet import Fernet\n\n\ndef handler(event, context):\n"
        "    return {'boto3': boto3.__version__, 'key': len(Fernet.generate_key())}\n",
    ),
}
_PYPROJECT = """\
[project]
name = "{name}"
version = "1.0"

[tool.lpack]
runtime = "python3.12"
architecture = "x86_64"
handler = "app.handler"
requirements = "requirements.txt"
"""


@dataclass(frozen=True, slots=True, kw_only=True)
class Result:
    name: str
    times: dict[str, float]  # measurement -> median seconds
    sizes: dict[str, tuple[int, int]]  # artifact -> (zipped, unzipped)
    imports: dict[str, float]  # tree -> median import seconds


def make_project(
    tmp: Path, name: str, *, variant: str = "", settings: str = "", requirements: str | None = None
) -> Path:
    wanted, app = _PROJECTS[name]
    root = tmp / f"{name}{variant}"
    root.mkdir()
    (root / "requirements.txt").write_text(wanted if requirements is None else requirements)
    (root / "app.py").write_text(app)
    (root / "pyproject.toml").write_text(_PYPROJECT.format(name=name) + settings)
    return root


def median_time(action: Callable[[int], object], runs: int) -> float:
    samples = []
    for i in range(runs):
        start = time.perf_counter()
        action(i)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def lpack(root: Path, out: Path, cache: Path, env: dict[str, str], *extra: str) -> None:
    cmd = [sys.executable, "-m", "lpack", "build", "-q", str(root), "--out", str(out), *extra]
    run(cmd, {**env, "LPACK_CACHE_DIR": str(cache)})


def baseline(root: Path, work: Path, env: dict[str, str]) -> Path:
    """AWS's recipe: pip install -t for the target, zip -r from inside the directory, add the handler."""
    target, out = work / "package", work / "function.zip"
    shutil.rmtree(work, ignore_errors=True)
    platforms = [arg for p in _PLATFORMS for arg in ("--platform", p)]
    pip = [sys.executable, "-m", "pip", "install", "-q", "-t", str(target), "-r", str(root / "requirements.txt")]
    run([*pip, *platforms, "--only-binary", ":all:", "--python-version", PYTHON, "--implementation", "cp"], env)
    run(["zip", "-r", "-q", str(out), "."], env, cwd=target)
    run(["zip", "-q", str(out), "app.py"], env, cwd=root)
    return out


def uv_reference(root: Path, work: Path, env: dict[str, str]) -> None:
    """The floor for a cold build: uv installs the tree (warm cache), lpack's fastest zip writes it."""
    shutil.rmtree(work, ignore_errors=True)
    platform = uv_platform(get_runtime("python3.12"), "x86_64")
    uv = [sys.executable, "-m", "uv", "pip", "install", "-q", "--target", str(work / "site"), "--link-mode", "copy"]
    run([*uv, "--python-version", PYTHON, "--python-platform", platform, "-r", str(root / "requirements.txt")], env)
    shutil.copy(root / "app.py", work / "site" / "app.py")
    _archive.write_zip(scan(work / "site", "deps"), work / "ref.zip", compression="fast")


def zip_code_alone(root: Path, work: Path) -> None:
    work.mkdir(parents=True, exist_ok=True)
    (work / "code.zip").unlink(missing_ok=True)
    subprocess.run(["zip", "-q", "-X", str(work / "code.zip"), "app.py"], cwd=root, check=True)


def sizes(path: Path) -> tuple[int, int]:
    with zipfile.ZipFile(path) as zf:
        return path.stat().st_size, sum(i.file_size for i in zf.infolist())


def bench_project(name: str, tmp: Path, env: dict[str, str], runs: int, import_runs: int) -> Result:
    root = make_project(tmp, name)
    progress(f"{name}: warm-up builds (fill uv's and pip's caches)")
    lpack(root, tmp / f"{name}-warm", tmp / f"{name}-warm-cache", env)
    baseline(root, tmp / f"{name}-pip-warm", env)
    times: dict[str, float] = {}
    progress(f"{name}: lpack cold x{runs}")
    times["lpack cold"] = median_time(
        lambda i: lpack(root, tmp / f"{name}-out{i}", tmp / f"{name}-cache{i}", env), runs
    )
    out, cache = tmp / f"{name}-out0", tmp / f"{name}-cache0"
    times["lpack no-change"] = median_time(lambda _i: lpack(root, out, cache, env), runs)
    app = root / "app.py"
    original = app.read_text()

    def edit_and_build(i: int) -> None:
        app.write_text(f"{original}\nBUILD = {i}\n")  # microseconds: left inside the timing
        lpack(root, out, cache, env)

    times["lpack code-only"] = median_time(edit_and_build, runs)
    app.write_text(original)
    lpack(root, out, cache, env)
    fast = make_project(tmp, name, variant="-fast", settings='compression = "fast"\n')
    times["lpack cold, compression fast"] = median_time(
        lambda i: lpack(fast, tmp / f"{name}-fast-out{i}", tmp / f"{name}-fast-cache{i}", env), runs
    )
    alone = make_project(tmp, name, variant="-alone", requirements="")
    times["lpack, the code alone"] = median_time(
        lambda i: lpack(alone, tmp / f"{name}-alone{i}", tmp / f"{name}-alone-cache", env, "--no-cache"), runs
    )
    progress(f"{name}: references and pip baseline x{runs}")
    times["uv install + fast zip"] = median_time(lambda _i: uv_reference(root, tmp / f"{name}-uvref", env), runs)
    times["zip code alone"] = median_time(lambda _i: zip_code_alone(root, tmp / f"{name}-code"), runs)
    times["pip -t + zip -r"] = median_time(lambda _i: baseline(root, tmp / f"{name}-pip", env), runs)
    artifact = out / f"{name}.zip"
    pip_zip = tmp / f"{name}-pip" / "function.zip"
    progress(f"{name}: import times x{import_runs}")
    imports = {
        "lpack artifact": import_time(unpack(artifact, tmp / f"{name}-task-lpack"), import_runs),
        "same tree, timestamp pyc, 1980 dates": import_time(
            timestamp_tree(artifact, tmp / f"{name}-task-ts"), import_runs
        ),
        "pip -t + zip -r artifact": import_time(unpack(pip_zip, tmp / f"{name}-task-pip"), import_runs),
    }
    return Result(
        name=name, times=times, sizes={"lpack": sizes(artifact), "pip -t + zip -r": sizes(pip_zip)}, imports=imports
    )


def unpack(zip_path: Path, dest: Path) -> Path:
    subprocess.run(["unzip", "-q", str(zip_path), "-d", str(dest)], check=True)
    read_only(dest)
    return dest


def read_only(root: Path) -> None:
    # Like /var/task: nothing can be written, so no pyc compiled at import is ever kept.
    for path in sorted(root.rglob("*"), reverse=True):
        path.chmod(path.stat().st_mode & ~0o222)
    root.chmod(root.stat().st_mode & ~0o222)


def timestamp_tree(artifact: Path, dest: Path) -> Path:
    """The artifact's files with pip-style timestamp pyc instead, then every date set to 1980 as a fixed-date zip
    unpacks: the pyc's recorded source mtimes no longer match, so Python recompiles on every import."""
    subprocess.run(["unzip", "-q", str(artifact), "-d", str(dest)], check=True)
    for cache_dir in list(dest.rglob("__pycache__")):
        shutil.rmtree(cache_dir)
    now = time.time()
    for path in dest.rglob("*"):  # the install time pip's pyc record, before the zip's fixed dates
        os.utime(path, (now, now), follow_symlinks=False)
    subprocess.run([python312(), "-m", "compileall", "-q", "-j0", str(dest)], check=False)
    fixed = _archive.ZIP_EPOCH_MIN
    for path in dest.rglob("*"):
        os.utime(path, (fixed, fixed), follow_symlinks=False)
    read_only(dest)
    return dest


def python312() -> str:
    from lpack.bytecode import find_interpreter  # noqa: PLC0415 - only here, where it is needed

    found = find_interpreter((3, 12))
    if found is None:
        raise SystemExit("error: no python3.12 to time the handler's import with")
    return found


def import_time(task: Path, runs: int) -> float:
    code = "import sys; sys.path.insert(0, sys.argv[1]); import app"
    # -B as well as the read-only modes: root ignores modes, and would cache what it compiled.
    return median_time(lambda _i: subprocess.run([python312(), "-I", "-B", "-c", code, str(task)], check=True), runs)


def zip_microbench(tree_root: Path) -> list[list[str]]:
    """stdlib zipfile (deflate 6, what lpack used before) against lpack's writer in each mode, same tree."""
    tree = scan(tree_root, "deps")
    rows = [["zip writer", "MB/s in", "time", "size", "speed vs stdlib", "size vs stdlib"]]
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        with zipfile.ZipFile(Path(tmp) / "std.zip", "w", zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
            for entry in tree:
                zf.write(entry.source, entry.path)
        base_s, base_size = time.perf_counter() - start, (Path(tmp) / "std.zip").stat().st_size
        rows.append(
            _row("stdlib zipfile, level 6", tree.unzipped_bytes, base_s, base_size, base_s=base_s, base_size=base_size)
        )
        for mode in COMPRESSIONS:
            start = time.perf_counter()
            _archive.write_zip(tree, Path(tmp) / f"{mode}.zip", compression=mode)
            took, size = time.perf_counter() - start, (Path(tmp) / f"{mode}.zip").stat().st_size
            rows.append(_row(f"lpack {mode}", tree.unzipped_bytes, took, size, base_s=base_s, base_size=base_size))
    return rows


def _row(name: str, unzipped: int, took: float, size: int, *, base_s: float, base_size: int) -> list[str]:
    return [
        name,
        f"{unzipped / took / 1e6:.0f}",
        f"{took:.2f} s",
        human(size),
        f"{base_s / took:.1f}x",
        f"{size / base_size:.3f}x",
    ]


def render(results: Sequence[Result], zips: list[list[str]], data_tree: Path | None) -> str:
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    lines = [f"lpack benchmark: python3.12/x86_64 from PyPI, {os.cpu_count()} cores (load average at the end: {load}),"]
    lines += ["median wall times", ""]
    names = list(results[0].times)
    lines += table([["", *(r.name for r in results)]] + [[n, *(f"{r.times[n]:.2f} s" for r in results)] for n in names])
    lines.append("")
    ratios = [
        ("cold / (uv install + fast zip)", "lpack cold", "uv install + fast zip", "goal ≤ 1.2"),
        ("cold fast / (uv install + fast zip)", "lpack cold, compression fast", "uv install + fast zip", "goal ≤ 1.2"),
        ("pip+zip / lpack cold (speed-up)", "pip -t + zip -r", "lpack cold", "goal ≥ 5 on data"),
        ("code-only / zip code alone", "lpack code-only", "zip code alone", "goal ≤ 1.5"),
        ("code-only / lpack, the code alone", "lpack code-only", "lpack, the code alone", "goal ≤ 1.5"),
    ]
    lines += table(
        [["ratio", *(r.name for r in results), ""]]
        + [[label, *(f"{r.times[a] / r.times[b]:.2f}" for r in results), goal] for label, a, b, goal in ratios]
    )
    lines.append("")
    size_rows = [["size (zipped / unzipped)", *(r.name for r in results)]]
    for artifact in results[0].sizes:
        size_rows.append(
            [artifact, *(f"{human(r.sizes[artifact][0])} / {human(r.sizes[artifact][1])}" for r in results)]
        )
    lines += table(size_rows)
    lines.append("")
    import_rows = [["handler import (read-only)", *(r.name for r in results)]]
    for tree in results[0].imports:
        import_rows.append([tree, *(f"{r.imports[tree] * 1000:.0f} ms" for r in results)])
    ts = "same tree, timestamp pyc, 1980 dates"
    import_rows.append(
        ["lpack / timestamp (goal ≤ 0.6)", *(f"{r.imports['lpack artifact'] / r.imports[ts]:.2f}" for r in results)]
    )
    lines += table(import_rows)
    if zips:
        lines += ["", f"zip writers on the data project's installed tree ({data_tree.name if data_tree else ''}):"]
        lines += table(zips)
    return "\n".join(lines)


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=3, help="timed builds per measurement (default: 3)")
    parser.add_argument("--import-runs", type=int, default=7, help="imports timed per tree (default: 7)")
    parser.add_argument("--only", choices=sorted(_PROJECTS), action="append", help="one project (repeatable)")
    args = parser.parse_args(argv)
    env = bench_env()
    with tempfile.TemporaryDirectory(prefix="lpack-suite-") as name:
        tmp = Path(name)
        results = [bench_project(p, tmp, env, args.runs, args.import_runs) for p in (args.only or list(_PROJECTS))]
        data_site = tmp / "data-uvref" / "site"
        zips = zip_microbench(data_site) if data_site.is_dir() else []
        print(render(results, zips, data_site if zips else None))
        for path in tmp.rglob("*"):  # read-only trees: let the temporary directory go
            if path.is_dir() and not path.is_symlink():
                path.chmod(0o755)
    return 0


if __name__ == "__main__":
    sys.exit(main())
