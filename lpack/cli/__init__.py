"""The command line: parse options, call one library function, render the result."""

from __future__ import annotations

from lpack.cli.commands import main

__all__ = ["main"]
