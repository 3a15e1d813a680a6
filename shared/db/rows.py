"""Typed answers of the queries: rows as frozen dataclasses (psycopg's class_row, which
matches columns to fields by name), and single values."""

from __future__ import annotations

from typing import Any, TypeVar

from psycopg.abc import Params
from psycopg.rows import class_row, scalar_row

from shared.db.pool import Connection

T = TypeVar("T")


def fetch_one(conn: Connection, row: type[T], query: str, params: Params | None = None) -> T | None:
    """The first row of `query` as a `row`, or None."""
    return conn.cursor(row_factory=class_row(row)).execute(query, params).fetchone()


def fetch_all(conn: Connection, row: type[T], query: str, params: Params | None = None) -> list[T]:
    """Every row of `query` as a `row`."""
    return conn.cursor(row_factory=class_row(row)).execute(query, params).fetchall()


def fetch_value(conn: Connection, query: str, params: Params | None = None) -> Any:
    """The first column of the first row of `query`, or None when there is no row."""
    return conn.cursor(row_factory=scalar_row).execute(query, params).fetchone()


def fetch_values(conn: Connection, query: str, params: Params | None = None) -> list[Any]:
    """The first column of every row of `query`."""
    return conn.cursor(row_factory=scalar_row).execute(query, params).fetchall()
