"""Every table of SO1 in one MetaData (the schema itself is created by Alembic migrations).

The table modules are imported here so that ``metadata`` is complete whoever imports it; a
test checks it against a migrated database, table for table.
"""

from __future__ import annotations

from so1.adapters.db import (
    intake_tables,
    metrics_repo,
    oncall_tables,
    postmortem_repo,
    tables,
    web_repo,
)
from so1.adapters.db.columns import metadata

TABLE_MODULES = (tables, intake_tables, oncall_tables, metrics_repo, postmortem_repo, web_repo)

__all__ = ["TABLE_MODULES", "metadata"]
