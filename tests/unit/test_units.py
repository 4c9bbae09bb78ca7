from __future__ import annotations

import pytest

from lpack import runtimes
from lpack.units import format_size, parse_size


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("40MB", 40_000_000),
        ("40mb", 40_000_000),
        (" 40 MB ", 40_000_000),
        ("200MiB", 200 * 1024**2),
        ("1.5GiB", 3 * 1024**3 // 2),
        ("1.5KB", 1500),
        ("2KiB", 2048),
        ("3GB", 3_000_000_000),
        ("1000", 1000),
        ("1000B", 1000),
        ("0", 0),
        (1000, 1000),
        (0, 0),
    ],
)
def test_parse_size(text: str | int, expected: int) -> None:
    assert parse_size(text) == expected


def test_mib_budget_matches_lambdas_binary_limits() -> None:
    assert parse_size("250MiB") == runtimes.MAX_UNZIPPED
    assert parse_size("50MiB") == runtimes.MAX_ZIPPED


@pytest.mark.parametrize("text", ["", "MB", "40XB", "40 M B", "-1MB", "1e6", "1,000", "40MBs", "forty"])
def test_parse_size_rejects_what_is_not_a_size(text: str) -> None:
    with pytest.raises(ValueError, match="expected a size like"):
        parse_size(text)


def test_parse_size_rejects_negative_ints_and_booleans() -> None:
    with pytest.raises(ValueError, match="negative"):
        parse_size(-1)
    with pytest.raises(ValueError, match="expected a size"):
        parse_size(True)


@pytest.mark.parametrize(("text", "expected"), [("8.2MB", 8_200_000), ("4.1GB", 4_100_000_000), ("2.01KB", 2010)])
def test_decimal_sizes_are_exact(text: str, expected: int) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        (0, "0 B"),
        (1023, "1023 B"),
        (1024, "1.0 KiB"),
        (1536, "1.5 KiB"),
        (50 * 1024**2, "50.0 MiB"),
        (runtimes.MAX_UNZIPPED, "250.0 MiB"),
        (5 * 1024**3, "5.0 GiB"),
        (2048 * 1024**3, "2048.0 GiB"),  # no unit past GiB
    ],
)
def test_format_size(size: int, expected: str) -> None:
    assert format_size(size) == expected


def test_format_then_parse_round_trips_whole_units() -> None:
    for size in (7 * 1024, 200 * 1024**2, 3 * 1024**3):
        assert parse_size(format_size(size).replace(" ", "")) == size
