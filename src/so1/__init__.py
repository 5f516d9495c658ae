"""SO1 Incident Response: runs a production incident from first alert to published postmortem."""

__version__ = "0.1.0"
