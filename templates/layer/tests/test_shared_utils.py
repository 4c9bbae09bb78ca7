from __future__ import annotations

from shared_utils import greeting


def test_greeting() -> None:
    assert greeting("lambda") == "hello, lambda"
