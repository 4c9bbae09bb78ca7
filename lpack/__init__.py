"""lpack: reproducible AWS Lambda artifacts for Python functions, built without Docker."""

from __future__ import annotations

from lpack.config.load import load_config
from lpack.config.model import BuildConfig, FunctionConfig, Overrides
from lpack.errors import LpackError
from lpack.pipeline.build import BuildResult, Event, FunctionResult, build
from lpack.version import __version__

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
