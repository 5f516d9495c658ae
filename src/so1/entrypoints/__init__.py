"""Entrypoints: the HTTP API, the command line and background workers."""
