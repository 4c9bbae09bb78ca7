"""The project's configuration: [tool.lpack] or lpack.toml read into frozen dataclasses."""

from __future__ import annotations

from lpack.config.load import find_config, load_config
from lpack.config.model import (
    ArtifactRole,
    AuditConfig,
    Budget,
    BuildConfig,
    FunctionConfig,
    ImageDelivery,
    IndexOptions,
    Overrides,
    PruneConfig,
    PublishConfig,
)
from lpack.config.reference import Reference, parse_reference

__all__ = [
    "ArtifactRole",
    "AuditConfig",
    "Budget",
    "BuildConfig",
    "FunctionConfig",
    "ImageDelivery",
    "IndexOptions",
    "Overrides",
    "PruneConfig",
    "PublishConfig",
    "Reference",
    "find_config",
    "load_config",
    "parse_reference",
]
