"""Lambda's runtime lifecycle: deprecation, block-create and block-update dates, checked against one `today()`.

Dates and sources live in the runtimes table (lpack.runtimes); this module says what they mean on a given day.
"""

from __future__ import annotations

import datetime
import os
import re
from collections.abc import Mapping
from types import MappingProxyType

from lpack.runtimes import RUNTIMES, Runtime

# Runtimes whose "block function update" date has passed: (name, deprecated, block create, block update), same
# sources as the table. Not in RUNTIMES, since nothing can be deployed for them; known, to give their dates.
_RETIRED = (
    ("python3.6", "2022-07-18", "2022-07-18", "2022-08-29"),
    ("python2.7", "2021-07-15", "2021-07-15", "2022-05-30"),
    ("nodejs12.x", "2023-03-31", "2023-03-31", "2023-04-30"),
    ("nodejs10.x", "2021-07-30", "2021-07-30", "2022-02-14"),
    ("nodejs8.10", "2020-03-06", "2020-02-04", "2020-03-06"),
)
RETIRED: Mapping[str, tuple[str, str, str]] = MappingProxyType({n: (d, c, u) for n, d, c, u in _RETIRED})


def successor(name: str) -> str:
    """The newest supported runtime of the same language as `name` ("python3.8" -> "python3.14")."""
    family = re.match(r"[a-z]+", name)
    prefix = family.group(0) if family else name
    return next(
        (r.name for r in RUNTIMES.values() if r.name.startswith(prefix) and r.deprecated is None), "a supported runtime"
    )


def lifecycle_warning(runtime: Runtime, today: datetime.date) -> str | None:
    """What Lambda's deprecation of `runtime` means on `today`; None while AWS still patches it."""
    if runtime.deprecated is None or today < datetime.date.fromisoformat(runtime.deprecated):
        return None
    create = runtime.block_create or "a date AWS has not announced"
    since = "since" if runtime.block_create and today >= datetime.date.fromisoformat(runtime.block_create) else "from"
    return (
        f"{runtime.name} is deprecated since {runtime.deprecated} (no security patches); Lambda refuses new "
        f"functions {since} {create} and updates from {runtime.block_update or 'a date AWS has not announced'}: "
        f"move to {successor(runtime.name)}"
    )


def today() -> datetime.date:
    """The date lifecycle checks use: UTC today, or LPACK_TODAY=YYYY-MM-DD (to rerun a past build's decision, and
    for tests, which must not start failing the day a runtime's block-update date passes)."""
    given = os.environ.get("LPACK_TODAY", "").strip()
    if given:
        try:
            return datetime.date.fromisoformat(given)
        except ValueError:
            pass  # an unreadable override is ignored rather than trusted: today's date applies
    return datetime.datetime.now(datetime.timezone.utc).date()


def update_blocked(name: str, today: datetime.date) -> str | None:
    """Why a function on runtime `name` cannot be deployed on `today`; None while Lambda accepts updates."""
    runtime = RUNTIMES.get(name)
    dates = (runtime.deprecated, runtime.block_create, runtime.block_update) if runtime else RETIRED.get(name)
    if dates is None or dates[2] is None or today < datetime.date.fromisoformat(dates[2]):
        return None
    deprecated, create, update = dates
    return (
        f"{name} was deprecated on {deprecated}; Lambda has refused new functions since {create} and updates to "
        f"existing ones since {update} [lambda-runtimes.html]"
    )
