"""The runbook's agents: pure policies that read inputs and return a report; no I/O.

One package an agent, named after the runbook phase it serves: ``triage`` (triage-responder),
``commander`` (incident-commander), ``deployer`` (railway-deployer), ``postmortem``
(postmortem-analyst). ``registry`` maps the seed's agent names to them.
"""
