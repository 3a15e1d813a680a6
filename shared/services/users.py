"""Users as the routes show them (who the caller is, and registration, is shared.identity)."""

from __future__ import annotations

from shared.identity import Caller


def user_id(caller: Caller) -> dict:
    """get-user-id: {"user_id"} of the caller."""
    return {"user_id": str(caller.user_id)}
