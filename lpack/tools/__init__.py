"""Tools around a build: check, inspect, diff, verify, init."""
