"""Operator commands of the Nachet function app.

    python manage.py migrate
    python manage.py <command> --help

Each module of admin/ that defines `register(subparsers)` adds a command; it reads the
same app settings as the functions (environment, else local.settings.json).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import pkgutil
import sys
from pathlib import Path

import admin
from devhost.services import ensure_services, stop_services
from devhost.settings_file import load_local_settings
from shared.errors import AppError, ConfigurationError

ROOT = Path(__file__).resolve().parent


def _migrate(args: argparse.Namespace) -> int:
    from shared.db.migrate import migrate
    from shared.settings import get_settings

    settings = get_settings()
    applied = migrate(settings.db_url, settings.schema)
    print(f"applied {len(applied)} migration(s)" + (f": {applied}" if applied else ""))
    return 0


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    # Settings first: the commands' modules check them when they load, as functions do.
    load_local_settings(ROOT)
    # Local mode with no database or storage named: the local app's embedded ones, as
    # scripts/run. Never elsewhere, so that a deploy step cannot migrate a throwaway database.
    local = os.environ.get("NACHET_ENV", "").strip().lower() == "local"
    started = ensure_services(ROOT, ROOT / ".data") if local else []
    parser = argparse.ArgumentParser(prog="manage.py", description=__doc__.split("\n")[1])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="apply the database migrations").set_defaults(run=_migrate)
    try:
        for info in pkgutil.iter_modules(admin.__path__):
            module = importlib.import_module(f"admin.{info.name}")
            if hasattr(module, "register"):
                module.register(commands)
        args = parser.parse_args(argv)
        return args.run(args)
    except (AppError, ConfigurationError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        stop_services(started)


if __name__ == "__main__":
    sys.exit(main())
