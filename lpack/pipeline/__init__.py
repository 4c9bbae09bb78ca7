"""The pipeline: sequences the stages for every function and layer of a project."""
