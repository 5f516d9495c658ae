"""Status-page adapters: builtin (SO1's public /status page); Atlassian Statuspage joins here."""
