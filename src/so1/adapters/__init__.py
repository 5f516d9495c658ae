"""Adapters: implementations of the ports in so1.ports (database, vendors, publishing)."""
