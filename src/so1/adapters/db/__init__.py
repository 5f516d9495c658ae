"""SQL persistence on SQLite and PostgreSQL: tables, repositories, unit of work, migrations."""
