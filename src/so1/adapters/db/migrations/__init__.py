"""Alembic migrations for the SO1 schema."""
