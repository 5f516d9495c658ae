"""`so1 demo`: the runbook's worked example end to end, with real processes."""
