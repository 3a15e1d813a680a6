"""What the load test's analysts send, apart from locust (which patches the process with
gevent when imported, so the app's process must import only this): pictures, identity
headers and request bodies."""

from __future__ import annotations

import base64
import json
from functools import cache

PICTURE_DIMS = [640, 480]
# The app's two modes: its settings over bench.app_host's local ones, and whether users
# send an App Service principal (else their email in the body).
MODES: dict[str, tuple[dict[str, str], bool]] = {
    "local": ({}, False),
    "production": ({"NACHET_ENV": "production", "WEBSITE_AUTH_ENABLED": "true"}, True),
}


@cache
def pictures() -> list[str]:
    """A few 640x480 JPEG seed pictures as data URLs, as a lab camera's downsized shots:
    2 to 8 seeds each, found by the built-in detector."""
    from tests.support.images import encode
    from tests.support.synthetic_seeds import make_seed_scene

    return [
        "data:image/jpeg;base64," + base64.b64encode(encode(
            make_seed_scene(width=640, height=480, n_seeds=2 + 2 * i, seed=300 + i).image,
            "JPEG", quality=88)).decode()
        for i in range(4)
    ]


def principal_header(email: str) -> str:
    """An App Service Authentication principal for `email`, as the platform sends it."""
    principal = {"auth_typ": "aad", "name_typ": "name",
                 "claims": [{"typ": "email", "val": email}, {"typ": "name", "val": "Analyst"}]}
    return base64.b64encode(json.dumps(principal).encode()).decode()


def headers(email: str, *, principal: bool) -> dict[str, str]:
    """A user's headers: with `principal`, the App Service principal that names it."""
    out = {"Content-Type": "application/json"}
    if principal:
        out["X-MS-CLIENT-PRINCIPAL"] = principal_header(email)
    return out


def body(email: str, fields: dict, *, principal: bool) -> str:
    """A request body; without a principal (local mode), the body names the user's email."""
    return json.dumps(fields if principal else {"email": email, **fields})


def inference(user_id: str, picture: str) -> dict:
    """The body of /api/inf for `picture`, stored in the user's folder General."""
    return {"image": picture, "imageDims": PICTURE_DIMS, "folder_name": "General",
            "container_name": user_id, "user_id": user_id}
