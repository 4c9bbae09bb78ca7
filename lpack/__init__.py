"""lpack: reproducible AWS Lambda artifacts for Python functions, built without Docker."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from lpack.version import __version__

if TYPE_CHECKING:
    from lpack.config.load import load_config
    from lpack.config.model import BuildConfig, FunctionConfig, Overrides
    from lpack.errors import LpackError
    from lpack.pipeline.build import BuildResult, Event, FunctionResult, build

__all__ = [
    "BuildConfig",
    "BuildResult",
    "Event",
    "FunctionConfig",
    "FunctionResult",
    "LpackError",
    "Overrides",
    "__version__",
    "build",
    "load_config",
]

# Imported on first use: `import lpack` (and so `lpack --version`, which imports this package first) does not
# pay for the config loader and the whole pipeline.
_LAZY = {
    "BuildConfig": "lpack.config.model",
    "BuildResult": "lpack.pipeline.build",
    "Event": "lpack.pipeline.build",
    "FunctionConfig": "lpack.config.model",
    "FunctionResult": "lpack.pipeline.build",
    "LpackError": "lpack.errors",
    "Overrides": "lpack.config.model",
    "build": "lpack.pipeline.build",
    "load_config": "lpack.config.load",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'lpack' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # once: later lookups are plain module attributes
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
