"""The project's configuration: [tool.lpack] or lpack.toml read into frozen dataclasses."""
