"""Inbound monitoring sources: signature/token checks and payload normalisation per vendor."""
