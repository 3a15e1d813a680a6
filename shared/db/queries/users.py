"""Queries on users."""

from __future__ import annotations

from uuid import UUID

from shared.db.pool import Connection


def find_id_by_email(conn: Connection, email: str) -> UUID | None:
    """The id of the user with this email (any case), or None."""
    row = conn.execute("SELECT id FROM users WHERE lower(email) = lower(%s)", [email]).fetchone()
    return row["id"] if row else None


def insert(conn: Connection, email: str) -> UUID | None:
    """Insert a user; None when a concurrent transaction registered the email first."""
    row = conn.execute(
        "INSERT INTO users (email) VALUES (%s) ON CONFLICT DO NOTHING RETURNING id", [email]
    ).fetchone()
    return row["id"] if row else None


def set_default_folder(conn: Connection, user_id: UUID, folder_id: UUID) -> None:
    """Record the user's default folder."""
    conn.execute("UPDATE users SET default_set_id = %s WHERE id = %s", [folder_id, user_id])


def exists(conn: Connection, user_id: UUID) -> bool:
    """Whether the user exists."""
    return conn.execute("SELECT 1 FROM users WHERE id = %s", [user_id]).fetchone() is not None
