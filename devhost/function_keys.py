"""Function keys, as the Functions host checks them for `authLevel: function` (and `admin`)
routes: the key in the `x-functions-key` header or the `code` query parameter. The Core
Tools check none locally; this host checks them when `NACHET_LOCAL_FUNCTION_KEY` is set
(in local.settings.json or the environment), against that one key, so that an operator
route's refusal can be seen before Azure."""

from __future__ import annotations

import hmac
import os
from collections.abc import Mapping

KEY_SETTING = "NACHET_LOCAL_FUNCTION_KEY"
KEYED_LEVELS = frozenset({"function", "admin"})


def key_refused(auth_level: str, headers: Mapping[str, str], query: Mapping[str, str]) -> bool:
    """Whether a request to a route of `auth_level` lacks the configured key (read at each
    request, so that the setting can change while the host runs)."""
    key = os.environ.get(KEY_SETTING, "")
    if auth_level.lower() not in KEYED_LEVELS or not key:
        return False
    header = next((v for k, v in headers.items() if k.lower() == "x-functions-key"), None)
    sent = header or query.get("code", "")
    return not hmac.compare_digest(sent.encode(), key.encode())
