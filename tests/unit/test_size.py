from __future__ import annotations

from pathlib import Path

import pytest

from lpack.config.model import Budget
from lpack.size import Contributor, SizeReport, largest, measure
from lpack.staging.tree import Entry, StagingTree

MiB = 1024 * 1024


def _tree(sizes: dict[str, int]) -> StagingTree:
    # measure() counts Entry.size only; the bytes on disk are never read.
    return StagingTree.of(
        Entry(path=p, source=Path("/nonexistent") / p, size=s, executable=False, origin="deps")
        for p, s in sizes.items()
    )


def _measure(unzipped: int, zipped: int, budget: Budget | None = None) -> SizeReport:
    return measure(_tree({"blob.bin": unzipped}), zipped_bytes=zipped, budget=budget or Budget())


def _limits(report: SizeReport) -> dict[str, str]:
    return {f.limit: f.severity for f in report.findings}


# --- largest ------------------------------------------------------------------------------------------------


def _disk_tree(root: Path, files: dict[str, bytes | int]) -> StagingTree:
    entries = []
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else b"x" * content)
        entries.append(Entry(path=rel, source=path, size=path.stat().st_size, executable=False, origin="deps"))
    return StagingTree.of(entries)


def test_largest_groups_by_distribution_and_ranks_by_bytes(tmp_path: Path) -> None:
    tree = _disk_tree(
        tmp_path,
        {
            "numpy/__init__.py": 100,
            "numpy/core/_multiarray.so": 9000,
            "numpy-2.1.0.dist-info/METADATA": b"Name: numpy\nVersion: 2.1.0\n",
            "numpy-2.1.0.dist-info/top_level.txt": b"numpy\n",
            "Jinja2-3.1.4.dist-info/METADATA": b"Name: Jinja2\nVersion: 3.1.4\n",
            "jinja2/__init__.py": 500,
            "python_dateutil-2.9.dist-info/METADATA": b"Name: python-dateutil\nVersion: 2.9\n",
            "python_dateutil-2.9.dist-info/top_level.txt": b"dateutil\n",
            "dateutil/parser.py": 700,
            "app.py": 300,
            "__pycache__/app.cpython-312.pyc": 200,
            "config.json": 40,
        },
    )
    assert largest(tree) == (
        Contributor(name="numpy", bytes=9133, files=4),  # dist-info counts toward the distribution
        Contributor(name="python-dateutil", bytes=744, files=3),  # named as pip names it, not by module
        Contributor(name="jinja2", bytes=528, files=2),  # canonical name, whatever the capitalisation
        Contributor(name="app.py", bytes=500, files=2),  # a top-level module's bytecode counts toward it
        Contributor(name="config.json", bytes=40, files=1),
    )


def test_largest_keeps_the_top_count_and_breaks_ties_by_name() -> None:
    tree = _tree({f"pkg{i:02d}/__init__.py": 10 * (i // 2) for i in range(12)})
    top = largest(tree, count=3)
    assert [c.name for c in top] == ["pkg10", "pkg11", "pkg08"]
    assert len(largest(tree)) == 10


def test_largest_of_an_empty_tree() -> None:
    assert largest(_tree({})) == ()


# --- measure ------------------------------------------------------------------------------------------------


def test_measure_reports_sizes_and_counts() -> None:
    tree = _tree({"a.py": 10, "pkg/b.py": 20, "pkg/c.py": 30})
    report = measure(tree, zipped_bytes=42, budget=Budget())
    assert report.unzipped_bytes == 60
    assert report.zipped_bytes == 42
    assert report.files == 3
    assert report.findings == ()
    assert report.over is False
    assert report.largest[0] == Contributor(name="pkg", bytes=50, files=2)


# Lambda's limits in bytes as AWS states them, not as lpack's constants: GetAccountSettings reports
# CodeSizeUnzipped = 262144000 ("Unzipped size must be smaller than 262144000 bytes") and CodeSizeZipped =
# 52428800 (UpdateFunctionCode: "Request must be smaller than 69905067 bytes", that zip base64-encoded).
AWS_UNZIPPED = 262_144_000
AWS_ZIPPED = 52_428_800


def test_exactly_at_lambdas_limits_is_fine() -> None:
    report = _measure(AWS_UNZIPPED, AWS_ZIPPED)
    assert report.findings == ()


def test_one_byte_over_the_unzipped_limit_is_an_error() -> None:
    report = _measure(AWS_UNZIPPED + 1, 1000)
    assert _limits(report) == {"lambda-unzipped": "error"}
    assert report.over is True
    finding = report.findings[0]
    assert finding.actual == AWS_UNZIPPED + 1
    assert finding.allowed == AWS_UNZIPPED
    assert "250.0 MiB" in finding.message
    assert "262,144,001 bytes" in finding.message


def test_over_the_direct_upload_limit_is_only_a_warning() -> None:
    report = _measure(100 * MiB, AWS_ZIPPED + 1)
    assert _limits(report) == {"lambda-zipped-direct": "warning"}
    assert report.over is False
    assert "S3" in report.findings[0].message


@pytest.mark.parametrize(
    ("budget", "unzipped", "zipped", "expected"),
    [
        (Budget(max_zipped=40_000_000), 1, 40_000_000, {}),
        (Budget(max_zipped=40_000_000), 1, 40_000_001, {"budget-zipped": "error"}),
        (Budget(max_unzipped=200 * MiB), 200 * MiB + 1, 1, {"budget-unzipped": "error"}),
        (Budget(max_unzipped=200 * MiB), 200 * MiB, 1, {}),
        (
            Budget(max_zipped=10, max_unzipped=10),
            AWS_UNZIPPED + 1,
            AWS_ZIPPED + 1,
            {
                "lambda-unzipped": "error",
                "lambda-zipped-direct": "warning",
                "budget-zipped": "error",
                "budget-unzipped": "error",
            },
        ),
    ],
)
def test_budget(budget: Budget, unzipped: int, zipped: int, expected: dict[str, str]) -> None:
    report = _measure(unzipped, zipped, budget)
    assert _limits(report) == expected
    assert report.over is any(s == "error" for s in expected.values())


def test_budget_finding_names_the_budget_key() -> None:
    report = _measure(10, 2_000_000, Budget(max_zipped=1_000_000))
    (finding,) = report.findings
    assert "max-zipped" in finding.message
    assert finding.actual == 2_000_000
    assert finding.allowed == 1_000_000
