"""The language of each function: Python, Node.js, or a directory built by another toolchain."""

from __future__ import annotations

from lpack.config.model import FunctionConfig
from lpack.pipeline.languages.base import Language
from lpack.pipeline.languages.node import Node
from lpack.pipeline.languages.node_bundle import NodeBundle
from lpack.pipeline.languages.prebuilt import Prebuilt
from lpack.pipeline.languages.python import Python
from lpack.prune.base import generic

_BY_RUNTIME: dict[str, Language] = {"python": Python(), "node": Node()}
_PREBUILT: Language = Prebuilt()
_NODE_BUNDLE: Language = NodeBundle()


def language_for(fn: FunctionConfig) -> Language:
    if fn.kind == "prebuilt":
        return _PREBUILT
    if fn.runtime.language == "node" and fn.bundle is not None and fn.role == "function":
        return _NODE_BUNDLE
    found = _BY_RUNTIME.get(fn.runtime.language)
    if found is not None:
        return found
    # A layer for another runtime (a custom runtime's bin/ and lib/): requirements, if any, install as
    # for Python, but no Python rule applies (no runtime-provided packages, no bytecode, no safe profile).
    return Python(name=fn.runtime.language, prune_profile=generic, provided=(), bytecode=False)


__all__ = ["Language", "language_for"]
