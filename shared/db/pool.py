"""One small connection pool per process, created on first use, and the edge where
psycopg errors become the app's errors.

The pool is never replaced because of an error (only when the settings are reset): a
second pool opened beside one whose connections are still in use would take the instance
past NACHET_DB_POOL_MAX_SIZE connections, the figure the README's connection budget counts
on. A database that went away is reconnected by the pool itself, with a backoff kept short
(_RECONNECT_GIVE_UP_S) so that it is used again within seconds of its return."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg import errors as pg_errors
from psycopg.rows import DictRow, dict_row
from psycopg_pool import ConnectionPool, PoolTimeout

from shared.errors import Conflict, DependencyUnavailable
from shared.settings import get_settings, on_reset

log = logging.getLogger(__name__)

# The pool's connections return rows as dicts (row_factory=dict_row below); annotate with
# this alias, not psycopg.Connection, so that a fetched row is typed as a dict.
Connection = psycopg.Connection[DictRow]
_lock = threading.Lock()
_pool: ConnectionPool[Connection] | None = None
_migrated: tuple[str, str] | None = None  # (db_url, schema) this process has migrated


def _migrate_once() -> None:
    """Apply the migrations once per process and database. Outside the pool's lock: it
    talks to the database, and with the database stalled a lock held here would queue
    every request behind one connect timeout after another. Threads that race here are
    serialized by the migration's own advisory lock in the database."""
    global _migrated
    from shared.db.migrate import migrate

    settings = get_settings()
    target = (settings.db_url, settings.schema)
    if _migrated != target:
        migrate(*target)
        _migrated = target


# How long one attempt to (re)open a connection backs off (1 s, 2 s, 4 s, ...) before it is
# given up and its slot freed; the next request that needs a connection starts a fresh
# attempt at once. The pool's default, 5 minutes, lets the backoff grow to a minute or
# two, during which a database that is back is not used.
_RECONNECT_GIVE_UP_S = 10.0


def _open_pool() -> ConnectionPool[Connection]:
    settings = get_settings()
    # min_size=0: opening makes no connection, so this runs under the lock without I/O.
    pool: ConnectionPool[Connection] = ConnectionPool(
        settings.db_url,
        min_size=0,
        max_size=settings.db_pool_max_size,
        timeout=settings.db_timeout_s,
        max_idle=5 * 60.0,
        reconnect_timeout=_RECONNECT_GIVE_UP_S,
        # prepare_threshold=None: no server-side prepared statements, so the
        # pool keeps working behind PgBouncer in transaction mode.
        kwargs={
            "row_factory": dict_row,
            "prepare_threshold": None,
            "connect_timeout": max(1, int(settings.db_timeout_s)),
        },
        open=True,
        name="nachet",
    )
    return pool


def _get_pool() -> ConnectionPool[Connection]:
    global _pool
    _migrate_once()
    with _lock:
        if _pool is None:
            _pool = _open_pool()
        return _pool


@on_reset
def close_pool() -> None:
    """Close the pool; the next connection() opens a new one (for new settings)."""
    global _pool
    with _lock:
        pool, _pool = _pool, None
    if pool is not None:
        pool.close(timeout=1.0)


class _Request(threading.local):
    """This thread's request scope: whether one is open and lets the caller lookup keep its
    connection, and the connection kept (with the pool it came from)."""

    keeping = False
    kept: tuple[ConnectionPool[Connection], Connection] | None = None


_request = _Request()


@contextmanager
def request_scope(*, keep_connection: bool) -> Iterator[None]:
    """One request on this thread. With `keep_connection`, the first block opened with
    `connection(keep=True)` (the caller lookup) keeps its connection for the next block
    instead of giving it back, one checkout instead of two: for routes whose work opens a
    block at once. A connection kept and not taken is given back when the scope ends,
    whatever ends it. Outside a scope (blob triggers, admin commands, benches) keep=True
    does nothing, so nothing can leak a connection into the thread's next invocation."""
    _request.keeping, _request.kept = keep_connection, None
    try:
        yield
    finally:
        _request.keeping = False
        kept, _request.kept = _request.kept, None
        if kept is not None:
            kept[0].putconn(kept[1])


def _checkout(pool: ConnectionPool[Connection]) -> Connection:
    kept, _request.kept = _request.kept, None
    if kept is not None:
        if kept[0] is pool:
            return kept[1]
        kept[0].putconn(kept[1])  # the settings were reset since: a fresh pool's connection
    return pool.getconn()


class CommitUnknown(DependencyUnavailable):
    """The connection was lost while the database committed: the transaction may have been
    committed without the answer reaching the app."""


def lost_mid_transaction(exc: BaseException) -> bool:
    """Whether `exc` is a connection lost during a block's COMMIT, when its rows may be
    written. Errors before the commit (no connection to be had, a statement failing, the
    connection lost mid-block) roll back: nothing of the block was written."""
    return isinstance(exc, CommitUnknown)


def _begin(pool: ConnectionPool[Connection]) -> Connection:
    """A connection of `pool` in a new transaction on the app's schema.

    Its first statement, which sets the search_path, is also the check that the connection
    still works (the pool checks none when it hands one out: that would cost a round trip
    per transaction). A connection that the server dropped while idle (a restart, a
    failover) fails it before the caller has done anything; then the pool's other idle
    connections are checked too, and it is tried once more.
    """
    for last_try in (False, True):
        conn = _checkout(pool)
        try:
            # SET LOCAL, not a session setting, so that PgBouncer may hand the
            # server connection to someone else after the transaction.
            conn.execute("SELECT set_config('search_path', %s, true)", [get_settings().schema])
            return conn
        except psycopg.OperationalError:
            pool.putconn(conn)  # discarded when broken, else rolled back
            if last_try:
                raise
            pool.check()
    raise AssertionError("unreachable")


@contextmanager
def connection(*, keep: bool = False) -> Iterator[Connection]:
    """A connection in one transaction on the app's schema, committed on success.

    With `keep`, inside a request_scope that allows it, a block that succeeds keeps its
    connection for the next block on this thread (see request_scope).

    Raises Conflict on a unique violation and DependencyUnavailable (503) when the
    database cannot serve the block now: no connection free within NACHET_DB_TIMEOUT_S
    (the pool is saturated or the database unreachable), the connection lost (CommitUnknown
    if during the commit), a deadlock or serialization failure, a cancelled statement or a
    lock not granted (the transaction rolled back: the client may try again). Other driver
    errors propagate.
    """
    committing = False
    conn: Connection | None = None
    try:
        pool = _get_pool()
        conn = _begin(pool)
        kept = False
        try:
            with conn:  # commits at the end of the block, rolls back on an error
                yield conn
                committing = True
            if keep and _request.keeping:
                _request.kept, kept = (pool, conn), True
        finally:
            if not kept:
                pool.putconn(conn)
    except pg_errors.UniqueViolation as exc:
        raise Conflict("this already exists") from exc
    except PoolTimeout as exc:
        log.warning("no database connection free within the timeout")
        raise DependencyUnavailable("the database is busy or unreachable; try again") from exc
    except psycopg.OperationalError as exc:
        if conn is None or conn.broken or conn.closed:
            log.warning("database connection lost: %s", type(exc).__name__)
            if committing:
                raise CommitUnknown("the database is unavailable") from exc
            raise DependencyUnavailable("the database is unavailable") from exc
        # The server refused this transaction (deadlock, serialization failure, statement
        # cancelled, lock not available) and it rolled back; the connection is fine.
        log.warning("database transaction refused: %s", type(exc).__name__)
        raise DependencyUnavailable("the database could not do this now; try again") from exc
