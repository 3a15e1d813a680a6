"""Queries on users."""

from __future__ import annotations

from uuid import UUID

from shared.db.pool import Connection
from shared.db.rows import fetch_value


def find_id_by_email(conn: Connection, email: str) -> UUID | None:
    """The id of the user with this email (any case), or None."""
    return fetch_value(conn, "SELECT id FROM users WHERE lower(email) = lower(%s)", [email])


def insert(conn: Connection, email: str) -> UUID | None:
    """Insert a user; None when a concurrent transaction registered the email first."""
    return fetch_value(
        conn, "INSERT INTO users (email) VALUES (%s) ON CONFLICT DO NOTHING RETURNING id", [email]
    )


def set_default_folder(conn: Connection, user_id: UUID, folder_id: UUID) -> None:
    """Record the user's default folder."""
    conn.execute("UPDATE users SET default_set_id = %s WHERE id = %s", [folder_id, user_id])


def exists(conn: Connection, user_id: UUID) -> bool:
    """Whether the user exists."""
    return fetch_value(conn, "SELECT 1 FROM users WHERE id = %s", [user_id]) is not None
