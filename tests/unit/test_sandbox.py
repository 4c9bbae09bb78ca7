"""Which network isolation `lpack verify` finds: the first way that really runs a command, else none."""

from __future__ import annotations

import pytest

from lpack.tools import sandbox


def test_no_tool_on_path_means_no_isolation(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("shutil.which", lambda name: None)
    assert sandbox.network_isolation.__wrapped__() == sandbox.NONE


def test_a_tool_that_fails_its_probe_is_not_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("shutil.which", lambda name: "/bin/false" if name in ("bwrap", "unshare") else None)
    assert sandbox.network_isolation.__wrapped__() == sandbox.NONE


def test_bwrap_comes_first_when_it_works(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("shutil.which", lambda name: f"/usr/bin/{name}")
    monkeypatch.setattr(sandbox, "_works", lambda prefix: True)
    found = sandbox.network_isolation.__wrapped__()
    assert found.name == "bwrap" and "--unshare-net" in found.prefix
