from __future__ import annotations

import re
from decimal import Decimal

# Decimal units for "MB" and binary ones for "MiB", as their names say. Lambda's own "50 MB" and
# "250 MB" limits are binary (runtimes.py), so budgets given as "MiB" line up with them exactly.
_UNITS = {
    "": 1,
    "b": 1,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
}
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$")


def parse_size(text: str | int) -> int:
    """Bytes in `text` ("40MB", "200MiB", "1.5GiB", 1000); ValueError when it is not a size."""
    if isinstance(text, bool):
        raise ValueError(f'expected a size like "40MB" or "200MiB", got {text!r}')
    if isinstance(text, int):
        if text < 0:
            raise ValueError(f"a size cannot be negative: {text}")
        return text
    match = _SIZE_RE.match(text)
    unit = match.group(2).lower() if match else None
    if match is None or unit not in _UNITS:
        raise ValueError(f'expected a size like "40MB" or "200MiB", got "{text}"')
    # Decimal, not float: "8.2MB" is 8,200,000 bytes, not 8,199,999.
    return int(Decimal(match.group(1)) * _UNITS[unit])


def format_size(n: int) -> str:
    """Human size in binary units with one decimal: what Lambda's limits are counted in."""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(value) < 1024 or unit == "GiB":
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")
