"""Sample services used by `so1 demo` (stdlib only, run as separate processes)."""
