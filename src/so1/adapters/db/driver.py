"""Statements compiled once by SQLAlchemy and run with the database driver itself.

The intake writer stores thousands of rows a second; per statement, SQLAlchemy's execution
(parameter processing, result wrapping, events) cost more CPU than SQLite took to run it.
A ``DriverStatement`` keeps what SQLAlchemy knows (the SQL text for the dialect, and each
column type's bind and result conversions) and hands rows straight to the driver: sqlite3
``executemany`` and psycopg 3 ``executemany`` (pipelined, one round trip per batch). An
INSERT runs as multi-row statements where that is cheaper: an INSERT ... RETURNING on both
engines (``returning_by_key``; sqlite3's ``executemany`` keeps no RETURNING rows, and on
PostgreSQL each pipelined statement costs the client and the server more than its row), and
any INSERT on PostgreSQL (``run_many``). PostgreSQL statements are compiled with positional
parameters and sent with PostgreSQL's own ``$1, $2...`` through psycopg's raw cursor
(``_numbered``), which does not parse the text again on every run.
The connection is the unit of work's own, so the rows join its transaction and the pool's
limits still apply.
"""

from __future__ import annotations

import itertools
import re
import sqlite3
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from typing import Any

from psycopg import RawCursor
from sqlalchemy import Column, Connection, Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ClauseElement

Processor = Callable[[Any], Any]
Row = Mapping[str, Any]
# Rows per multi-row statement at most (a power of two; fewer when SQLite's variable limit
# says so). Chunks are powers of two, so a statement sees few distinct SQL texts, each
# prepared once per connection (sqlite3 caches 128).
MAX_ROWS_PER_STATEMENT = 128
PG_MAX_PARAMETERS = 65535  # the protocol's limit on one statement's parameters
_UNSET = object()


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
        compiled = statement.compile(
            dialect=_positional(dialect), column_keys=list(column_keys or ())
        )
        assert isinstance(compiled, SQLCompiler)
        self._native = dialect.name == "postgresql"  # run with $1, $2... (``_numbered``)
        self._template = compiled.string
        self.sql = _numbered(self._template) if self._native else self._template
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
        mark = "?" if dialect.name == "sqlite" else "%s"
        positional = self._positional
        self._values = _values_group(self._template, self._sources, mark) if positional else None
        self._multi_sql: dict[int, str] = {}

    def parameters(self, values: Row) -> Sequence[Any] | dict[str, Any]:
        """The driver's parameters for one row of ``values`` (keyed by bind name)."""
        found: Sequence[Any] | dict[str, Any] = self.parameter_rows([values])[0]
        return found

    def parameter_rows(self, rows: Sequence[Row]) -> list[Any]:  # lists, or dicts if named
        """``parameters`` of each row. A value that is the very object the row before gave
        (the batch's one time in its timestamps) is converted once."""
        given: list[Any] = [_UNSET] * len(self._sources)
        done: list[Any] = [None] * len(self._sources)
        found: list[Any] = []
        for values in rows:
            converted = [values[key] if key else constant for key, constant in self._sources]
            for n, convert in self._converters:
                value = converted[n]
                if value is not given[n]:
                    given[n], done[n] = value, convert(value)
                converted[n] = done[n]
            found.append(
                converted if self._positional else dict(zip(self._names, converted, strict=True))
            )
        return found

    def read(self, row: Sequence[Any] | None) -> dict[str, Any] | None:
        """A returned row as column values, converted as SQLAlchemy would."""
        if row is None:
            return None
        values = dict(zip(self._columns, row, strict=True))
        for name, reader in self._readers:
            values[name] = reader(values[name])
        return values

    def run_many(self, conn: Connection, rows: Sequence[Row]) -> None:
        """Run the statement once per row: in one driver call, or on PostgreSQL an INSERT
        as multi-row statements (the statement must not touch a row twice: no ON CONFLICT)."""
        if not rows:
            return
        with _cursor(conn, self.sql) as cursor:
            if self._native and self._values and " ON CONFLICT " not in self.sql:
                for chunk in _chunks([list(range(len(rows)))], self._most_rows(cursor)):
                    self._execute_rows(cursor, [rows[n] for n in chunk])
                return
            cursor.executemany(self.sql, self.parameter_rows(rows))

    def returning_each(self, conn: Connection, rows: Sequence[Row]) -> list[dict[str, Any] | None]:
        """Run the statement once per row, in order; the first row each run returned."""
        if not rows:
            return []
        with _cursor(conn, self.sql) as cursor:
            if conn.dialect.name == "postgresql":
                return self._pipelined(cursor, rows)
            found = []
            for params in self.parameter_rows(rows):  # sqlite3's executemany: no RETURNING rows
                cursor.execute(self.sql, params)
                found.append(self.read(cursor.fetchone()))
            return found

    def all_returned(self, conn: Connection, values: Row) -> list[dict[str, Any]]:
        """Run the statement once; every row it returned."""
        with _cursor(conn, self.sql) as cursor:
            cursor.execute(self.sql, self.parameters(values))
            return [found for row in cursor.fetchall() if (found := self.read(row)) is not None]

    def returning_by_key(
        self, conn: Connection, rows: Sequence[Row], key: Sequence[str]
    ) -> list[dict[str, Any] | None]:
        """The results of ``returning_each`` for an INSERT ... RETURNING whose returned row
        carries ``key`` (columns named as in ``rows``), and where a row touches only rows of
        its own key. The rows go as multi-row statements; neither engine promises the order
        of RETURNING rows, so each is matched to its input by ``key``. A key's
        repeat goes to a later statement (it must see what the first one did), so the
        results are those of running the rows one by one, in order."""
        if self._values is None or len(rows) < 2:
            return self.returning_each(conn, rows)
        keys = [tuple(values[k] for k in key) for values in rows]
        found: list[dict[str, Any] | None] = [None] * len(rows)
        with _cursor(conn, self.sql) as cursor:
            for chunk in _chunks(_rounds(keys), self._most_rows(cursor)):
                by_key = self._run_rows(cursor, [rows[n] for n in chunk], key)
                for n in chunk:
                    found[n] = by_key.get(keys[n])
        return found

    def _run_rows(
        self, cursor: Any, rows: list[Row], key: Sequence[str]
    ) -> dict[tuple[Any, ...], dict[str, Any]]:
        """One multi-row statement; its returned rows by ``key``."""
        self._execute_rows(cursor, rows)
        returned = [self.read(row) for row in cursor.fetchall()]
        return {tuple(r[k] for k in key): r for r in returned if r is not None}

    def _execute_rows(self, cursor: Any, rows: list[Row]) -> None:
        """``rows`` as one multi-row statement."""
        assert self._values is not None
        head, width = self._values
        params: list[Any] = []
        for converted in self.parameter_rows(rows):
            params += converted[:width]  # positional: _values_group said so
        constants = [constant for _, constant in self._sources[width:]]
        cursor.execute(self._sql_for(len(rows), head), params + constants)

    def _most_rows(self, cursor: Any) -> int:
        """The most rows one statement takes: a power of two under the engine's limit on
        parameters."""
        assert self._values is not None
        driver = cursor.connection
        if isinstance(driver, sqlite3.Connection):
            limit = driver.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
        else:
            limit = PG_MAX_PARAMETERS
        most = min(MAX_ROWS_PER_STATEMENT, max(1, (limit - 8) // self._values[1]))
        return 1 << (most.bit_length() - 1)

    def _sql_for(self, count: int, head: int) -> str:
        """The statement with ``count`` VALUES groups (built once per count)."""
        if (text := self._multi_sql.get(count)) is None:
            sql = self._template
            end = sql.index(")", head) + 1
            text = sql[:head] + ", ".join([sql[head:end]] * count) + sql[end:]
            self._multi_sql[count] = text = _numbered(text) if self._native else text
        return text

    def _pipelined(self, cursor: Any, rows: Sequence[Row]) -> list[dict[str, Any] | None]:
        """psycopg 3: all rows in one pipeline; each run's result is its own result set."""
        cursor.executemany(self.sql, self.parameter_rows(rows), returning=True)
        found = [self.read(cursor.fetchone())]
        while cursor.nextset():
            found.append(self.read(cursor.fetchone()))
        return found


def _positional(dialect: Dialect) -> Dialect:
    """The dialect to compile with: PostgreSQL's with ``%s`` parameters, which the rows of a
    multi-row statement can be laid out in."""
    if dialect.positional or dialect.name != "postgresql":
        return dialect
    kind = type(dialect)
    if kind not in _FORMAT_DIALECTS:
        _FORMAT_DIALECTS[kind] = kind(paramstyle="format")  # type: ignore[call-arg]
    return _FORMAT_DIALECTS[kind]


_FORMAT_DIALECTS: dict[type[Dialect], Dialect] = {}


def _numbered(sql: str) -> str:
    """A ``%s`` statement with PostgreSQL's own ``$1, $2...``: psycopg's raw cursor sends it
    as it is, where it would parse a long ``%s`` text again on every run (it caches only
    short statements)."""
    numbers = itertools.count(1)
    return re.sub(r"%%|%s", lambda m: "%" if m[0] == "%%" else f"${next(numbers)}", sql)


def _values_group(
    sql: str, sources: Sequence[tuple[str | None, Any]], mark: str
) -> tuple[int, int] | None:
    """Where an INSERT's one VALUES group starts and how many parameters it holds, when the
    statement can take several groups: all of a row's parameters are in the group (those
    after it, as in ON CONFLICT ... SET, are constants). None for any other statement."""
    marker = " VALUES ("
    if not sql.startswith("INSERT") or sql.count(marker) != 1:
        return None
    head = sql.index(marker) + len(" VALUES ")
    end = sql.index(")", head)
    width = sql[head:end].count(mark)
    outside = sql[:head].count(mark) == 0 and "(" not in sql[head + 1 : end]
    if not outside or width == 0 or any(k for k, _ in sources[width:]):
        return None
    return head, width


def _rounds(keys: Sequence[tuple[Any, ...]]) -> list[list[int]]:
    """Row positions in rounds: a key's first rows in round 0, its second in round 1..."""
    seen: Counter[tuple[Any, ...]] = Counter()
    rounds: list[list[int]] = []
    for n, key in enumerate(keys):
        if seen[key] == len(rounds):
            rounds.append([])
        rounds[seen[key]].append(n)
        seen[key] += 1
    return rounds


def _chunks(rounds: list[list[int]], most: int) -> Iterator[list[int]]:
    """Each round in chunks whose sizes are powers of two (at most ``most``)."""
    for positions in rounds:
        start = 0
        while start < len(positions):
            left = len(positions) - start
            size = min(most, 1 << (left.bit_length() - 1))
            yield positions[start : start + size]
            start += size


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
    native = conn.dialect.name == "postgresql"
    cursor: Any = RawCursor(driver) if native else driver.cursor()  # type: ignore[union-attr,arg-type]
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
