"""The embedded defaults: PostgreSQL (pgserver) and Azurite, started when the app's
settings name no database and no storage account of their own."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

from shared.settings import is_development_storage

log = logging.getLogger("devhost")

def start_postgres(data_dir: Path) -> Any:
    """Start (or reuse) an embedded PostgreSQL in `data_dir`; it stops when this process exits.
    Returns the pgserver handle; `.get_uri()` is its URL."""
    import pgserver  # a development dependency, never deployed

    data_dir.mkdir(parents=True, exist_ok=True)
    return pgserver.get_server(data_dir, cleanup_mode="stop")


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    """Whether something listens on host:port."""
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def free_port() -> int:
    """A TCP port that is free now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def azurite_connection_string(port: int) -> str:
    """The connection string of an Azurite blob service on `port` (the well-known account)."""
    from shared.settings import DEVELOPMENT_STORAGE

    return DEVELOPMENT_STORAGE.replace("127.0.0.1:10000", f"127.0.0.1:{port}")


def _azurite_command(root: Path) -> str:
    local = root / "node_modules" / ".bin" / "azurite-blob"
    found = str(local) if local.exists() else shutil.which("azurite-blob")
    if not found:
        raise RuntimeError("Azurite is not installed: run `npm install` in the repo root")
    return found


def start_azurite(root: Path, data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    """Start Azurite's blob service on `port` with its data in `data_dir`; wait until it answers."""
    data_dir.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        [
            _azurite_command(root), "--blobHost", "127.0.0.1", "--blobPort", str(port),
            "--location", str(data_dir), "--skipApiVersionCheck", "--silent", "--loose",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while not port_open(port):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"Azurite did not start on port {port}")
        time.sleep(0.1)
    return proc


def stop(proc: subprocess.Popen[bytes] | None) -> None:
    """Stop a service process started here."""
    if proc is not None and proc.poll() is None:
        proc.send_signal(signal.SIGINT)  # Azurite closes its stores on Ctrl-C
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def ensure_services(root: Path, data_dir: Path) -> list[subprocess.Popen[bytes] | Any]:
    """Start the embedded defaults that the environment asks for and point the app at
    them; return what was started, to stop on exit."""
    started: list[Any] = []
    if not os.environ.get("NACHET_DB_URL"):
        server = start_postgres(data_dir / "postgres")
        os.environ["NACHET_DB_URL"] = server.get_uri()
        started.append(server)
        log.info("embedded PostgreSQL in %s", data_dir / "postgres")
    storage = os.environ.get("NACHET_AZURE_STORAGE_CONNECTION_STRING", "")
    if not storage or is_development_storage(storage):
        os.environ["NACHET_AZURE_STORAGE_CONNECTION_STRING"] = "UseDevelopmentStorage=true"
        if not port_open(10000):
            started.append(start_azurite(root, data_dir / "azurite", 10000))
            log.info("Azurite in %s on port 10000", data_dir / "azurite")
    host_storage = os.environ.get("AzureWebJobsStorage", "")
    if not host_storage or is_development_storage(host_storage):
        os.environ["AzureWebJobsStorage"] = "UseDevelopmentStorage=true"
    return started


def stop_services(started: list[Any]) -> None:
    """Stop what ensure_services started."""
    for service in started:
        if hasattr(service, "cleanup"):
            service.cleanup()
        else:
            stop(service)
