"""The staging tree every stage passes on, and what can be read from it (packages, distributions)."""
