"""War-room adapters: builtin (messages kept by SO1); Slack joins here."""
