"""lpack's version: one place, below everything, so the CLI and the cache keys need not import the package's top."""

from __future__ import annotations

__version__ = "0.1.0.dev0"
