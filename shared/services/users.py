"""Users: registration on first sight, with the default folder."""

from __future__ import annotations

from uuid import UUID

from shared.db import connection
from shared.db.queries import folders, users
from shared.errors import Conflict

DEFAULT_FOLDER = "General"


def get_or_register(email: str) -> UUID:
    """The id of the user with `email`, registering it (with its folder General) if new.

    Raises DependencyUnavailable.
    """
    with connection() as conn:
        user_id = users.find_id_by_email(conn, email)
        if user_id is not None:
            return user_id
        user_id = users.insert(conn, email)
        if user_id is None:  # registered concurrently: that transaction has committed
            found = users.find_id_by_email(conn, email)
            if found is None:  # and a delete has committed since
                raise Conflict("this user was registered and removed at the same time; try again")
            return found
        folder_id = folders.insert(conn, user_id, DEFAULT_FOLDER)
        users.set_default_folder(conn, user_id, folder_id)
        return user_id


def user_exists(user_id: UUID) -> bool:
    """Whether `user_id` names a registered user."""
    with connection() as conn:
        return users.exists(conn, user_id)
