"""Labelled triage scenarios (YAML) and the accuracy test that runs them."""
