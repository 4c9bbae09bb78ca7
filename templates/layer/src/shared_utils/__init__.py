"""Code shared by several functions: lpack puts it under python/ in the layer, on their import path."""

from __future__ import annotations


def greeting(name: str) -> str:
    return f"hello, {name}"
