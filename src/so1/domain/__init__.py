"""The runbook's vocabulary as frozen dataclasses and pure functions (standard library only):
severity table, alerts, incidents and their state machine, on-call, catalog, mitigations,
verification gates, postmortems."""
