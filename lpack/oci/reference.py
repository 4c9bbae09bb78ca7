"""Image references: parsed in lpack.config.reference, where the config (a lower stage) checks `base`; the old path."""

from __future__ import annotations

from lpack.config.reference import DOCKER_HUB, Reference, parse_reference

__all__ = ["DOCKER_HUB", "Reference", "parse_reference"]
