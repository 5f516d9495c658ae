"""Use cases: the only layer that opens transactions and calls ports.

One package a runbook phase, named as in ``agents``: ``intake``, ``triage``, ``declaration``,
``investigation``, ``mitigation``, ``verification``, ``postmortem``; and across phases
``incidents`` (the record), ``runbook`` (checks and clocks), ``access`` (keys, sign-in,
clearance). ``orchestration`` runs an agent by name, ``background`` defines the background
jobs, ``views`` gathers what the web pages show.
"""
