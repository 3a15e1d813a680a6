"""What the benchmarks share: the app served in process on its own embedded PostgreSQL
and Azurite, and the median timer."""

from __future__ import annotations

import os
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


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
def running_app(env: dict[str, str] | None = None) -> Iterator[str]:
    """Start PostgreSQL, Azurite and the local host in a temporary folder (local mode, or
    the settings of `env` over it); yield the API's base URL; stop everything after and
    put the environment back, so that one run may start the app again in another mode."""
    from devhost.server import Dispatcher, HostServer
    from devhost.services import azurite_connection_string, free_port, start_azurite, start_postgres, stop
    from devhost.settings_file import HostSettings
    from shared import settings

    saved = dict(os.environ)
    with tempfile.TemporaryDirectory() as tmp:
        postgres = start_postgres(Path(tmp) / "postgres")
        azurite_port = free_port()
        azurite = start_azurite(ROOT, Path(tmp) / "azurite", azurite_port)
        os.environ.update({
            "NACHET_DB_URL": postgres.get_uri(),
            "NACHET_AZURE_STORAGE_CONNECTION_STRING": azurite_connection_string(azurite_port),
            "NACHET_ENV": "local",
            **(env or {}),
        })
        settings.reset()
        server = HostServer(("127.0.0.1", 0), Dispatcher(ROOT), HostSettings(0, (), False))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}/api"
        finally:
            server.shutdown()
            server.server_close()
            settings.reset()  # the pool and the storage client let go of the services
            stop(azurite)
            postgres.cleanup()
            os.environ.clear()
            os.environ.update(saved)
