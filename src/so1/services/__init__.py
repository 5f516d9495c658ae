"""Use cases: the only layer that opens transactions and calls ports."""
