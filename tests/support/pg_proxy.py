"""A proxy on 127.0.0.1 in front of a PostgreSQL database, for the tests and benches that
watch or break what goes over the wire; a subclass says what to do with each connection.

    class Watcher(PostgresProxy):
        def _serve(self, client, server): ...   # start a thread that relays the two

    with Watcher(db_url) as proxy:   # the app connects to proxy.url
"""

from __future__ import annotations

import socket
import threading
from typing import Self

from psycopg.conninfo import conninfo_to_dict, make_conninfo


class PostgresProxy:
    """Accepts the app's connections and opens one to the database for each, then hands
    both sockets to `_serve` (on the accepting thread: start a thread there)."""

    def __init__(self, db_url: str) -> None:
        target = conninfo_to_dict(db_url)
        host = str(target.get("host") or "/tmp")
        port = int(target.get("port") or 5432)
        self._upstream: tuple[socket.AddressFamily, str | tuple[str, int]] = (
            (socket.AF_UNIX, f"{host}/.s.PGSQL.{port}") if host.startswith("/")
            else (socket.AF_INET, (host, port))
        )
        self._listener = socket.create_server(("127.0.0.1", 0))
        # SSL and GSS negotiation off, so that the app's first message is the startup message.
        self.url = make_conninfo(db_url, host="127.0.0.1", port=self._listener.getsockname()[1],
                                 sslmode="disable", gssencmode="disable")

    def __enter__(self) -> Self:
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._listener.close()

    def _serve(self, client: socket.socket, server: socket.socket) -> None:
        raise NotImplementedError

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed
            family, address = self._upstream
            server = socket.socket(family)
            server.connect(address)
            self._serve(client, server)
