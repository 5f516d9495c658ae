"""Metrics sources: samples pushed to SO1 (builtin) and Prometheus."""
