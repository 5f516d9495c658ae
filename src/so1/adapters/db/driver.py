"""Statements compiled once by SQLAlchemy and run with the database driver itself.

The intake writer stores thousands of rows a second; per statement, SQLAlchemy's execution
(parameter processing, result wrapping, events) cost more CPU than SQLite took to run it.
A ``DriverStatement`` keeps what SQLAlchemy knows (the SQL text for the dialect, and each
column type's bind and result conversions) and hands rows straight to the driver: sqlite3
``executemany`` and psycopg 3 ``executemany`` (pipelined, one round trip per batch).
The connection is the unit of work's own, so the rows join its transaction and the pool's
limits still apply.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from typing import Any

from sqlalchemy import Column, Connection, Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ClauseElement

Processor = Callable[[Any], Any]
Row = Mapping[str, Any]


class DriverStatement:
    """One statement for one dialect: its SQL, how to build each row's parameters, and how
    to read the columns it returns (``returning``, in the statement's RETURNING order)."""

    def __init__(
        self,
        statement: ClauseElement,
        dialect: Dialect,
        column_keys: Sequence[str] | None = None,
        returning: Sequence[Column[Any]] = (),
    ) -> None:
        compiled = statement.compile(dialect=dialect, column_keys=list(column_keys or ()))
        assert isinstance(compiled, SQLCompiler)
        self.sql = compiled.string
        self._positional = bool(compiled.positional)
        binds = {name: bind for bind, name in compiled.bind_names.items()}
        names = list(compiled.positiontup or ()) if self._positional else list(binds)
        params = [_param(name, binds[name], dialect) for name in names]
        self._sources = [(key, constant) for key, constant, _ in params]
        # Only the values whose type converts them are touched again (few: JSON, times).
        self._converters = [(n, convert) for n, (_, _, convert) in enumerate(params) if convert]
        self._names = names
        self._columns = [c.key for c in returning]
        readers = [c.type.dialect_impl(dialect).result_processor(dialect, None) for c in returning]
        self._readers = [(c.key, r) for c, r in zip(returning, readers, strict=True) if r]

    def parameters(self, values: Row) -> Sequence[Any] | dict[str, Any]:
        """The driver's parameters for one row of ``values`` (keyed by bind name)."""
        converted = [values[key] if key else constant for key, constant in self._sources]
        for n, convert in self._converters:
            converted[n] = convert(converted[n])
        return converted if self._positional else dict(zip(self._names, converted, strict=True))

    def read(self, row: Sequence[Any] | None) -> dict[str, Any] | None:
        """A returned row as column values, converted as SQLAlchemy would."""
        if row is None:
            return None
        values = dict(zip(self._columns, row, strict=True))
        for name, reader in self._readers:
            values[name] = reader(values[name])
        return values

    def run_many(self, conn: Connection, rows: Sequence[Row]) -> None:
        """Run the statement once per row, in one driver call."""
        if rows:
            with _cursor(conn, self.sql) as cursor:
                cursor.executemany(self.sql, [self.parameters(r) for r in rows])

    def returning_each(self, conn: Connection, rows: Sequence[Row]) -> list[dict[str, Any] | None]:
        """Run the statement once per row, in order; the first row each run returned."""
        if not rows:
            return []
        with _cursor(conn, self.sql) as cursor:
            if conn.dialect.name == "postgresql":
                return self._pipelined(cursor, rows)
            found = []
            for values in rows:  # sqlite3's executemany keeps no RETURNING rows
                cursor.execute(self.sql, self.parameters(values))
                found.append(self.read(cursor.fetchone()))
            return found

    def _pipelined(self, cursor: Any, rows: Sequence[Row]) -> list[dict[str, Any] | None]:
        """psycopg 3: all rows in one pipeline; each run's result is its own result set."""
        cursor.executemany(self.sql, [self.parameters(r) for r in rows], returning=True)
        found = [self.read(cursor.fetchone())]
        while cursor.nextset():
            found.append(self.read(cursor.fetchone()))
        return found


def _param(name: str, bind: Any, dialect: Dialect) -> tuple[str | None, Any, Processor | None]:
    """(row key, constant, conversion) for one bind: a value the statement holds itself
    (the ``1`` of ``dedup_count + 1``) is a constant, the others come from each row."""
    convert = bind.type.dialect_impl(dialect).bind_processor(dialect)
    if not bind.required:
        value = bind.effective_value
        return None, convert(value) if convert else value, None
    return name, None, convert


@contextmanager
def _cursor(conn: Connection, sql: str) -> Iterator[Any]:
    """A cursor on the DBAPI connection (sqlite3 or psycopg) under the unit of work's
    connection. A driver error is raised as SQLAlchemy's (``OperationalError`` and the
    rest), as the API's problem handlers expect; a lost connection leaves the pool."""
    driver = conn.connection.driver_connection
    cursor = driver.cursor()  # type: ignore[union-attr]
    dbapi = conn.dialect.loaded_dbapi
    try:
        yield cursor
    except dbapi.Error as exc:
        lost = conn.dialect.is_disconnect(exc, driver, cursor)
        if lost:
            conn.invalidate(exc)
        raise DBAPIError.instance(
            sql, None, exc, dbapi.Error, connection_invalidated=lost, dialect=conn.dialect
        ) from exc
    finally:
        with suppress(dbapi.Error):
            cursor.close()
