"""A commit whose answer is lost: a proxy between the app and PostgreSQL that, once armed,
lets the first transaction that inserts a picture row commit on the server, then cuts the
app's connection before the server's answer reaches it, as a network failure or a
failover at that moment would. The app cannot know whether its rows were written.

    with LostCommit(direct_url) as proxy:   # point NACHET_DB_URL at proxy.url
        proxy.arm(); ...; assert proxy.cut
"""

from __future__ import annotations

import socket
import struct
import threading
from contextlib import suppress

from tests.support.pg_proxy import PostgresProxy

# The statement that marks the transaction to cut: the insert of a picture row.
MARK = b"INSERT INTO picture ("


class LostCommit(PostgresProxy):
    def __init__(self, db_url: str) -> None:
        super().__init__(db_url)
        self._armed = threading.Event()
        self.cut = threading.Event()  # set once a commit's answer was lost

    def arm(self) -> None:
        self._armed.set()

    def _serve(self, client: socket.socket, server: socket.socket) -> None:
        threading.Thread(target=self._from_client, args=(client, server), daemon=True).start()

    def _from_client(self, client: socket.socket, server: socket.socket) -> None:
        """Pass the app's messages on; after a marked transaction's COMMIT, let the server
        answer it (so it is committed), then close both sides with the answer unsent."""
        buffer, started, marked = b"", False, False
        holding, answered = threading.Event(), threading.Event()
        threading.Thread(target=_answers, args=(server, client, holding, answered), daemon=True).start()
        with suppress(OSError):
            while data := client.recv(65536):
                buffer += data
                while True:
                    header = 5 if started else 4  # the startup message has no type byte
                    if len(buffer) < header:
                        break
                    length = struct.unpack("!I", buffer[header - 4:header])[0] + header - 4
                    if len(buffer) < length:
                        break
                    message, buffer = buffer[:length], buffer[length:]
                    kind = message[:1] if started else b""
                    started = True
                    text = message[5:] if kind in (b"Q", b"P") else b""
                    marked = marked or (self._armed.is_set() and MARK in text)
                    if marked and text.lstrip(b"\x00").upper().startswith(b"COMMIT"):
                        holding.set()  # from here on, nothing the server says reaches the app
                    server.sendall(message)
                    # The COMMIT runs at its Sync (extended protocol) or at once (a simple Query).
                    if holding.is_set() and kind in (b"S", b"Q"):
                        answered.wait(30)
                        self._armed.clear()
                        self.cut.set()
                        client.close()
                        server.close()
                        return
        with suppress(OSError):
            server.shutdown(socket.SHUT_WR)


def _answers(server: socket.socket, client: socket.socket, holding: threading.Event,
             answered: threading.Event) -> None:
    """The server's answers to the app, until `holding`: then the next answer is kept back."""
    with suppress(OSError):
        while data := server.recv(65536):
            if holding.is_set():
                answered.set()
                return
            client.sendall(data)
