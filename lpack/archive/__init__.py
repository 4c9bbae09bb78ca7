"""Deterministic archives: the zip writer, its deflate back-ends, tar layers and atomic outputs."""
