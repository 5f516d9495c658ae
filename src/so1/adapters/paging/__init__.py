"""Paging adapters: builtin (notification log, optional outgoing webhook); PagerDuty joins here."""
