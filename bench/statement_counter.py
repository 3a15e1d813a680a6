"""Counting what the app sends PostgreSQL, on the wire: a proxy between the app and the
database that reads the client's side of the protocol.

    with StatementCounter(db_url) as counter:      # the app connects to counter.url
        counter.reset(); do_something(); counts = counter.snapshot()

Whatever the driver does (execute, executemany in a pipeline, COPY, streaming, the pool's
connection checks, BEGIN and COMMIT), the server runs one statement per simple Query
message and one per Execute message; each waits for the server once per Sync or Query
(a round trip). Nothing here depends on psycopg's internals.
"""

from __future__ import annotations

import socket
import struct
import threading
from collections import Counter
from contextlib import suppress
from dataclasses import dataclass

from tests.support.pg_proxy import PostgresProxy

_SPECIAL_REQUESTS = {80877103, 80877104}  # SSLRequest, GSSENCRequest: answered with one byte


@dataclass(frozen=True)
class Counts:
    """What the app sent between a reset and a snapshot."""

    statements: int  # every statement the server ran, BEGIN and COMMIT included
    transaction_control: int  # BEGIN, COMMIT, ROLLBACK
    checks: int  # empty statements: the pool checking a connection
    round_trips: int  # waits for the server: Sync and simple Query messages
    by_text: dict[str, int]  # statements by their first line, BEGIN and COMMIT included

    @property
    def transactions(self) -> int:
        return self.by_text.get("BEGIN", 0)

    @property
    def queries(self) -> int:
        """Statements that are not transaction control nor connection checks."""
        return self.statements - self.transaction_control - self.checks


def _first_line(sql: bytes) -> str:
    text = sql.rstrip(b"\x00").decode(errors="replace").strip()
    return text.splitlines()[0].strip() if text else ""


class _ClientStream:
    """Reads one connection's client-to-server bytes and counts its messages."""

    def __init__(self, counter: StatementCounter) -> None:
        self.counter = counter
        self.buffer = b""
        self.started = False
        self.unnamed = ""  # the text of the last unnamed statement parsed
        self.named: dict[bytes, str] = {}  # prepared statements' texts, by name
        self.bound = ""  # the text of the statement bound last: what Execute runs

    def feed(self, data: bytes) -> None:
        self.buffer += data
        while True:
            if not self.started:
                if len(self.buffer) < 8:
                    return
                (length,) = struct.unpack("!i", self.buffer[:4])
                if len(self.buffer) < length:
                    return
                (code,) = struct.unpack("!i", self.buffer[4:8])
                self.buffer = self.buffer[length:]
                self.started = code not in _SPECIAL_REQUESTS
                continue
            if len(self.buffer) < 5:
                return
            kind = self.buffer[:1]
            (length,) = struct.unpack("!i", self.buffer[1:5])
            if len(self.buffer) < 1 + length:
                return
            body, self.buffer = self.buffer[5:1 + length], self.buffer[1 + length:]
            self._message(kind, body)

    def _message(self, kind: bytes, body: bytes) -> None:
        if kind == b"Q":
            self.counter._count(_first_line(body), round_trip=True)
        elif kind == b"P":
            name, _, rest = body.partition(b"\x00")
            text = _first_line(rest.partition(b"\x00")[0])
            if name:
                self.named[name] = text
            else:
                self.unnamed = text
        elif kind == b"B":
            _portal, _, rest = body.partition(b"\x00")
            statement = rest.partition(b"\x00")[0]
            self.bound = self.named.get(statement, "") if statement else self.unnamed
        elif kind == b"E":
            self.counter._count(self.bound, round_trip=False)
        elif kind == b"S":
            self.counter._round_trip()


class StatementCounter(PostgresProxy):
    """A proxy on 127.0.0.1 in front of the database of `db_url`; `url` reaches the same
    database through it. Counts every connection's statements together."""

    def __init__(self, db_url: str) -> None:
        super().__init__(db_url)
        self._lock = threading.Lock()
        self._texts: Counter[str] = Counter()
        self._round_trips = 0
        self._sockets: list[socket.socket] = []

    def __exit__(self, *exc: object) -> None:
        super().__exit__(*exc)
        for s in self._sockets:
            s.close()

    def reset(self) -> None:
        with self._lock:
            self._texts.clear()
            self._round_trips = 0

    def snapshot(self) -> Counts:
        with self._lock:
            texts = dict(self._texts)
            control = sum(n for text, n in texts.items()
                          if text.upper() in ("BEGIN", "COMMIT", "ROLLBACK"))
            return Counts(statements=sum(texts.values()), transaction_control=control,
                          checks=texts.get("", 0), round_trips=self._round_trips, by_text=texts)

    def _count(self, text: str, *, round_trip: bool) -> None:
        with self._lock:
            self._texts[text] += 1
            self._round_trips += round_trip

    def _round_trip(self) -> None:
        with self._lock:
            self._round_trips += 1

    def _serve(self, client: socket.socket, server: socket.socket) -> None:
        self._sockets += [client, server]
        stream = _ClientStream(self)
        threading.Thread(target=self._pump, args=(client, server, stream), daemon=True).start()
        threading.Thread(target=self._pump, args=(server, client, None), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, target: socket.socket, stream: _ClientStream | None) -> None:
        with suppress(OSError):  # either side closed
            while data := source.recv(65536):
                if stream is not None:
                    stream.feed(data)
                target.sendall(data)
        for s in (source, target):
            with suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
