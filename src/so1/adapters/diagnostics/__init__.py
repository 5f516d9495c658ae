"""Diagnostics of the databases services use (the runbook's database failure scenario)."""
