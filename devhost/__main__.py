"""`python -m devhost`: start the embedded services if needed, migrate, and serve the
app on http://localhost:7071/api until interrupted."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from pathlib import Path

from devhost.blob_triggers import BlobTriggerRunner
from devhost.server import Dispatcher, HostServer
from devhost.services import ensure_services, stop_services
from devhost.settings_file import load_local_settings

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description="Run the Nachet function app locally.")
    parser.add_argument("--port", type=int, help="port (default: Host.LocalHttpPort or 7071)")
    parser.add_argument("--data", type=Path, default=ROOT / ".data", help="local data folder")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("azure").setLevel(logging.WARNING)

    # A plain `kill` stops the app like Ctrl-C, so the services below are stopped too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    host_settings = load_local_settings(ROOT)
    started = ensure_services(ROOT, args.data)
    try:
        from shared.db.migrate import migrate
        from shared.errors import ConfigurationError
        from shared.settings import get_settings

        try:
            settings = get_settings()
        except ConfigurationError as exc:
            print(exc, file=sys.stderr)
            return 2
        migrate(settings.db_url, settings.schema)
        dispatcher = Dispatcher(ROOT)
        dispatcher.load_all()
        port = args.port or host_settings.port
        server = HostServer(("0.0.0.0", port), dispatcher, host_settings)
        logging.getLogger("devhost").info(
            "serving %d HTTP functions on http://localhost:%d/api", len(dispatcher.routes), port
        )
        blob_triggers = BlobTriggerRunner(ROOT)
        blob_triggers.start()
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
            blob_triggers.stop()
    finally:
        stop_services(started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
