"""What the artifact does not need: caches, tests, docs, install records, runtime-provided packages."""
