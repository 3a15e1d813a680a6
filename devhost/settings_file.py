"""Reads local.settings.json (or its template on a fresh clone) as the Core Tools do."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class HostSettings:
    """The `Host` section: port and CORS."""

    port: int
    cors_origins: tuple[str, ...]
    cors_credentials: bool


def load_local_settings(root: Path) -> HostSettings:
    """Put the file's `Values` into the environment (variables already set win, so a
    shell or CI can override any of them) and return its `Host` section."""
    path = root / "local.settings.json"
    if not path.exists():
        path = root / "local.settings.json.template"
    data = json.loads(path.read_text()) if path.exists() else {}
    for key, value in (data.get("Values") or {}).items():
        os.environ.setdefault(key, str(value))
    host = data.get("Host") or {}
    # The web client's origins are allowed too, as the platform's CORS list would hold them.
    listed = f'{host.get("CORS", "")},{os.environ.get("NACHET_FRONTEND_PUBLIC_URL", "")}'
    origins = tuple(dict.fromkeys(o.strip().rstrip("/") for o in listed.split(",") if o.strip()))
    return HostSettings(
        port=int(host.get("LocalHttpPort", 7071)),
        cors_origins=origins,
        cors_credentials=bool(host.get("CORSCredentials", False)),
    )
