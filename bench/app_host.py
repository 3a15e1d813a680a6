"""What the benchmarks share: the app served on its own embedded PostgreSQL and Azurite,
in this process or in one of its own, and the median timer."""

from __future__ import annotations

import os
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.support.host_process import HostProcess

ROOT = Path(__file__).resolve().parent.parent


def cpu_s(pid: int) -> float:
    """The CPU time, user and system, all threads, that process `pid` has used so far."""
    import psutil

    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


def median_s(action: Callable[[], object], runs: int) -> float:
    """The median wall time of `action` over `runs` calls, after one warm-up call
    (imports, pool, containers)."""
    action()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


@contextmanager
def _services(env: dict[str, str] | None) -> Iterator[None]:
    """PostgreSQL and Azurite in a temporary folder, and the app's settings pointing at
    them in os.environ (local mode, or the settings of `env` over it); everything stopped
    and the environment put back after, so that one run may start the app again in
    another mode."""
    from devhost.services import azurite_connection_string, free_port, start_azurite, start_postgres, stop
    from shared import settings

    saved = dict(os.environ)
    with tempfile.TemporaryDirectory() as tmp:
        postgres = start_postgres(Path(tmp) / "postgres")
        azurite_port = free_port()
        azurite = start_azurite(ROOT, Path(tmp) / "azurite", azurite_port)
        storage = azurite_connection_string(azurite_port)
        os.environ.update({
            "NACHET_DB_URL": postgres.get_uri(),
            "NACHET_AZURE_STORAGE_CONNECTION_STRING": storage,
            "AzureWebJobsStorage": storage,
            "NACHET_ENV": "local",
            **(env or {}),
        })
        settings.reset()
        try:
            yield
        finally:
            settings.reset()  # the pool and the storage client let go of the services
            stop(azurite)
            postgres.cleanup()
            os.environ.clear()
            os.environ.update(saved)


@contextmanager
def running_app(env: dict[str, str] | None = None) -> Iterator[str]:
    """Start PostgreSQL, Azurite and the local host in this process (see _services for
    `env`); yield the API's base URL."""
    from devhost.server import Dispatcher, HostServer
    from devhost.settings_file import HostSettings

    with _services(env):
        server = HostServer(("127.0.0.1", 0), Dispatcher(ROOT), HostSettings(0, (), False))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}/api"
        finally:
            server.shutdown()
            server.server_close()


@contextmanager
def app_process(env: dict[str, str] | None = None) -> Iterator[HostProcess]:
    """Start PostgreSQL and Azurite (see _services for `env`), then the local host in a
    process of its own (its `base_url` and `pid`), as the app has the Functions worker's
    process to itself in Azure: the bench's client and model server do not share its
    interpreter."""
    from tests.support.host_process import HostProcess

    with _services(env), tempfile.TemporaryDirectory() as tmp:
        host = HostProcess("--data", tmp)
        try:
            yield host
        finally:
            host.stop()
