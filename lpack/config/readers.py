"""Reading the config file's bytes: TOML that is not UTF-8, too deeply nested or unreadable is one ConfigError."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from lpack.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]


def read_toml(path: Path) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise ConfigError(
            f"{path.name}: cannot read: {err.strerror}", hint=f"make {path} readable by this user"
        ) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        # TOML is UTF-8 by definition (toml.io, "Spec"): a Latin-1 é or a UTF-16 file would crash tomllib.
        line = raw[: err.start].count(b"\n") + 1
        raise ConfigError(
            f"{path.name}: not UTF-8 (byte 0x{raw[err.start]:02x} on line {line})",
            hint="save the file as UTF-8",
        ) from None
    try:
        data: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path.name}: invalid TOML: {err}", hint="fix the syntax at the line shown") from None
    except RecursionError:
        # tomllib recurses per nested array or inline table: a hostile file would crash the parser.
        raise ConfigError(f"{path.name}: invalid TOML: nested too deeply", hint="flatten the nested values") from None
    return data
