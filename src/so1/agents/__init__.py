"""The runbook's agents: pure policies that read inputs and return a report; no I/O."""
