"""Reads local.settings.json (or its template on a fresh clone) as the Core Tools do."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, replace
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
    return HostSettings(
        port=int(host.get("LocalHttpPort", 7071)),
        cors_origins=_origins(host.get("CORS", "").split(",")),
        cors_credentials=bool(host.get("CORSCredentials", False)),
    )


def allowing(host: HostSettings, origins: Iterable[str]) -> HostSettings:
    """`host` whose CORS also allows `origins`: the web client's (NACHET_FRONTEND_PUBLIC_URL,
    as the app settings validated them), as the platform's CORS list would hold them."""
    return replace(host, cors_origins=_origins([*host.cors_origins, *origins]))


def _origins(listed: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(o.strip().rstrip("/") for o in listed if o.strip()))
