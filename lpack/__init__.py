"""lpack: reproducible AWS Lambda artifacts for Python functions, built without Docker."""

from __future__ import annotations

from lpack.config.load import BuildConfig, FunctionConfig, Overrides, load_config
from lpack.errors import LpackError
from lpack.pipeline.build import BuildResult, Event, FunctionResult, build

__version__ = "0.1.0.dev0"

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
