"""Issue 15's goals as one table: each goal, its figure per project, and whether it was met or by how much missed.

The figures come from bench_tools.py's measurements (median wall times, sizes, import times), keyed by the row
labels below, so that the table and the measurements cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from bench_build import table

COLD = "lpack cold"
NO_CHANGE = "lpack no-change"
CODE_ONLY = "lpack code-only"
NO_CHANGE_IN_PROCESS = "lpack no-change, in-process"
CODE_ONLY_IN_PROCESS = "lpack code-only, in-process"
UV = "uv pip install --target + zip -r"
UV_NEW_LOCK = "uv pip install --target + zip -r, new lock"
SAM = "sam build + zip -r"
SAM_NEW_LOCK = "sam build + zip -r, new lock"
CHALICE = "chalice package"
BYTECODE_ONLY = "lpack, bytecode only"
SOURCE_ONLY = "lpack, source only"
# bench_cache's rows.
NEW_LOCK = "lpack new lock, wheels cached"
NEW_LOCK_HASHED = "lpack new lock, wheels cached, hashed lock committed"
NEW_LOCK_ONE_NEW = "lpack new lock, one wheel new, hashed lock committed"
WARM_S3 = "lpack empty local cache, warm S3"


class Measured(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def times(self) -> Mapping[str, float]: ...
    @property
    def sizes(self) -> Mapping[str, tuple[int, int]]: ...
    @property
    def imports(self) -> Mapping[str, float]: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class Goal:
    label: str
    figure: Callable[[Measured], float | None]
    target: float
    at_most: bool  # the figure must be ≤ target; otherwise ≥
    unit: str = ""

    def cell(self, result: Measured) -> str:
        value = self.figure(result)
        if value is None:
            return "-"
        shown = f"{value:.2f}{self.unit}"
        met = value <= self.target if self.at_most else value >= self.target
        return f"{shown} met" if met else f"{shown} missed by {abs(value - self.target) / self.target:.0%}"


def _ratio(values: Mapping[str, float], a: str, b: str) -> float | None:
    return values[a] / values[b] if a in values and b in values else None


def _times(a: str, b: str) -> Callable[[Measured], float | None]:
    return lambda r: _ratio(r.times, a, b)


def _seconds(label: str) -> Callable[[Measured], float | None]:
    return lambda r: r.times.get(label)


def _unzipped(a: str, b: str) -> Callable[[Measured], float | None]:
    return lambda r: _ratio({k: float(v[1]) for k, v in r.sizes.items()}, a, b)


def _imports(a: str, b: str) -> Callable[[Measured], float | None]:
    return lambda r: _ratio(r.imports, a, b)


GOALS = (
    Goal(label="1 nothing cached: lpack / (uv + zip)", figure=_times(COLD, UV), target=1.0, at_most=True),
    Goal(label="1 nothing cached: sam / lpack", figure=_times(SAM, COLD), target=5, at_most=False),
    Goal(
        label="2 new lock, unpinned: lpack / (uv + zip)", figure=_times(NEW_LOCK, UV_NEW_LOCK), target=0.3, at_most=True
    ),
    Goal(
        label="2 new lock, hashed lock: lpack / (uv + zip)",
        figure=_times(NEW_LOCK_HASHED, UV_NEW_LOCK),
        target=0.3,
        at_most=True,
    ),
    Goal(label="2 new lock, unpinned: sam / lpack", figure=_times(SAM_NEW_LOCK, NEW_LOCK), target=10, at_most=False),
    Goal(
        label="2 new lock, hashed lock: sam / lpack",
        figure=_times(SAM_NEW_LOCK, NEW_LOCK_HASHED),
        target=10,
        at_most=False,
    ),
    Goal(label="3 empty local, warm S3: lpack / (uv + zip)", figure=_times(WARM_S3, UV), target=0.5, at_most=True),
    Goal(label="4 no-change rebuild (CLI)", figure=_seconds(NO_CHANGE), target=0.25, at_most=True, unit=" s"),
    Goal(
        label="4 no-change rebuild (in-process)",
        figure=_seconds(NO_CHANGE_IN_PROCESS),
        target=0.25,
        at_most=True,
        unit=" s",
    ),
    Goal(label="4 code-only change (CLI)", figure=_seconds(CODE_ONLY), target=0.5, at_most=True, unit=" s"),
    Goal(
        label="4 code-only change (in-process)",
        figure=_seconds(CODE_ONLY_IN_PROCESS),
        target=0.5,
        at_most=True,
        unit=" s",
    ),
    Goal(
        label="5 bytecode only: unzipped / source only",
        figure=_unzipped(BYTECODE_ONLY, SOURCE_ONLY),
        target=1.1,
        at_most=True,
    ),
    Goal(label="5 bytecode only: import / sam's", figure=_imports(BYTECODE_ONLY, "sam"), target=0.5, at_most=True),
)


def render_goals(results: Sequence[Measured]) -> list[str]:
    rows = [["goal", "target", *(r.name for r in results)]]
    for goal in GOALS:
        target = f"{'≤' if goal.at_most else '≥'} {goal.target:g}{goal.unit}"
        rows.append([goal.label, target, *(goal.cell(r) for r in results)])
    return table(rows)
