"""PostgreSQL statements run by the intake writer's driver path go with PostgreSQL's own
``$1, $2...`` placeholders (psycopg's raw cursor), including the multi-row texts."""

from __future__ import annotations

from sqlalchemy import Column, Integer, MetaData, String, Table, insert, literal_column, select
from sqlalchemy.dialects.postgresql import psycopg

from so1.adapters.db.driver import DriverStatement, _numbered

PG = psycopg.dialect()  # type: ignore[no-untyped-call]
things = Table("things", MetaData(), Column("id", Integer), Column("name", String))


def test_placeholders_are_numbered_in_order_and_percent_signs_unescaped() -> None:
    sql = "SELECT %s, '100%%' WHERE a LIKE 'x%%' AND b = %s OR c = %s"
    assert _numbered(sql) == "SELECT $1, '100%' WHERE a LIKE 'x%' AND b = $2 OR c = $3"


def test_a_postgresql_insert_is_compiled_positional_and_numbered() -> None:
    statement = DriverStatement(insert(things), PG, ("id", "name"))
    assert "VALUES ($1" in statement.sql and "$2" in statement.sql and "%s" not in statement.sql
    assert statement.parameters({"id": 1, "name": "a"}) == [1, "a"]


def test_a_multi_row_text_numbers_every_row_on_from_the_first() -> None:
    statement = DriverStatement(insert(things), PG, ("id", "name"))
    assert statement._values is not None
    text = statement._sql_for(3, statement._values[0])
    assert text.count("$") == 6 and "$6" in text and "$7" not in text
    assert text.index("$1") < text.index("$3") < text.index("$5")


def test_a_percent_sign_in_the_statement_reaches_postgresql_as_one() -> None:
    query = select(things.c.id).where(things.c.name.like(literal_column("'50%'")))
    statement = DriverStatement(query, PG)
    assert "'50%'" in statement.sql and "%%" not in statement.sql
