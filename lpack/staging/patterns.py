from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pathspec


class Patterns:
    """gitignore-syntax patterns matched against POSIX relative paths (pathspec's GitIgnoreSpec: git's own rules)."""

    def __init__(self, lines: Iterable[str]) -> None:
        self.lines = tuple(lines)
        self._spec: Any = pathspec.GitIgnoreSpec.from_lines(self.lines)

    def __bool__(self) -> bool:
        return bool(self.lines)

    def match(self, path: str) -> bool:
        return bool(self._spec.match_file(path))

    def matching(self, paths: Iterable[str]) -> set[str]:
        return set(self._spec.match_files(paths))
