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
from devhost.settings_file import allowing, load_local_settings

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description="Run the Nachet function app locally.")
    parser.add_argument("--port", type=int, help="port (default: Host.LocalHttpPort or 7071)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1: this machine only; 0.0.0.0 for all)")
    parser.add_argument("--data", type=Path, default=ROOT / ".data", help="local data folder")
    parser.add_argument("--no-migrate", action="store_true",
                        help="leave the migrations to the app's first request, as in Azure")
    parser.add_argument("--blob-poll", type=float, default=60.0, metavar="SECONDS",
                        help="longest wait between two blob trigger scans while idle (default 60)")
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
        host_settings = allowing(host_settings, settings.frontend_origins)
        if not args.no_migrate:
            migrate(settings.db_url, settings.schema)
        dispatcher = Dispatcher(ROOT)
        dispatcher.load_all()
        blob_triggers = BlobTriggerRunner(ROOT, max_poll_interval_s=args.blob_poll)
        port = host_settings.port if args.port is None else args.port
        server = HostServer((args.host, port), dispatcher, host_settings, on_request=blob_triggers.nudge)
        address, bound_port = server.server_address[:2]
        logging.getLogger("devhost").info(
            "serving %d HTTP functions on http://%s:%d/api", len(dispatcher.routes), address, bound_port)
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
