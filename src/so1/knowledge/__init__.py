"""Triage knowledge as data, not code: ``symptoms.yaml`` maps symptoms to likely causes.

Loaded once by ``so1.agents.triage_knowledge`` through ``importlib.resources``.
"""
