"""Typed answers of the queries: rows as frozen dataclasses (psycopg's class_row, which
matches columns to fields by name), as NamedTuples where a query answers many rows, or
streamed through a server-side cursor; and single values."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Sequence
from typing import Any, NamedTuple, TypeVar

from psycopg import Cursor
from psycopg.abc import Params
from psycopg.rows import class_row, scalar_row

from shared.db.pool import Connection

T = TypeVar("T")
N = TypeVar("N", bound=NamedTuple)


def fetch_one(conn: Connection, row: type[T], query: str, params: Params | None = None) -> T | None:
    """The first row of `query` as a `row`, or None."""
    return conn.cursor(row_factory=class_row(row)).execute(query, params).fetchone()


def fetch_all(conn: Connection, row: type[T], query: str, params: Params | None = None) -> list[T]:
    """Every row of `query` as a `row`."""
    return conn.cursor(row_factory=class_row(row)).execute(query, params).fetchall()


def fetch_tuples(conn: Connection, row: type[N], query: str, params: Params | None = None) -> list[N]:
    """Every row of `query` as a `row` NamedTuple, whose fields must be the query's
    columns in order (checked once per query, not per row)."""

    def factory(cursor: Cursor[Any]) -> Callable[[Sequence[Any]], N]:
        columns = tuple(column.name for column in cursor.description or ())
        if columns != row._fields:
            raise TypeError(f"{row.__name__} has fields {row._fields}, the query gives {columns}")
        return row._make

    return conn.cursor(row_factory=factory).execute(query, params).fetchall()


def stream_all(
    conn: Connection, row: type[T], query: str, params: Params | None = None, *, batch: int = 200,
) -> Iterator[T]:
    """Every row of `query` as a `row`, fetched `batch` at a time through a server-side
    cursor of the connection's transaction: memory stays flat however many rows come."""
    with conn.cursor(f"stream_{uuid.uuid4().hex}", row_factory=class_row(row)) as cursor:
        cursor.itersize = batch
        cursor.execute(query, params)
        yield from cursor


def fetch_value(conn: Connection, query: str, params: Params | None = None) -> Any:
    """The first column of the first row of `query`, or None when there is no row."""
    return conn.cursor(row_factory=scalar_row).execute(query, params).fetchone()


def fetch_values(conn: Connection, query: str, params: Params | None = None) -> list[Any]:
    """The first column of every row of `query`."""
    return conn.cursor(row_factory=scalar_row).execute(query, params).fetchall()
