"""One small connection pool per process, created on first use, and the edge where
psycopg errors become the app's errors."""

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


def _open_pool() -> ConnectionPool[Connection]:
    settings = get_settings()
    # min_size=0: opening makes no connection, so this runs under the lock without I/O.
    pool: ConnectionPool[Connection] = ConnectionPool(
        settings.db_url,
        min_size=0,
        max_size=settings.db_pool_max_size,
        timeout=settings.db_timeout_s,
        max_idle=5 * 60.0,
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
    """Close the pool; the next connection() opens a new one."""
    global _pool
    with _lock:
        pool, _pool = _pool, None
    if pool is not None:
        pool.close(timeout=1.0)


# Per thread (one request at a time): the connection that the caller lookup kept for the
# request's next block, and the pool it came from.
_kept = threading.local()


def _checkout(pool: ConnectionPool[Connection]) -> Connection:
    kept: tuple[ConnectionPool[Connection], Connection] | None = getattr(_kept, "value", None)
    _kept.value = None
    if kept is not None:
        if kept[0] is pool:
            return kept[1]
        kept[0].putconn(kept[1])  # the settings were reset since: a fresh pool's connection
    return pool.getconn()


def release_kept() -> None:
    """Give back the connection kept by `connection(keep=True)` if no block took it; the
    end of every request calls this."""
    kept: tuple[ConnectionPool[Connection], Connection] | None = getattr(_kept, "value", None)
    _kept.value = None
    if kept is not None:
        kept[0].putconn(kept[1])


def lost_mid_transaction(exc: BaseException) -> bool:
    """Whether `exc` is the database going away while a block held its connection: then
    the block's commit may have been done without the answer reaching the app."""
    return isinstance(exc, DependencyUnavailable) and isinstance(exc.__cause__, psycopg.OperationalError)


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

    With `keep` (the caller lookup that starts a request), a block that succeeds keeps its
    connection for the next block on this thread instead of giving it back: one checkout
    for "who is asking" and the route's own work. Under load every checkout is a wait in
    the pool's queue, and a light route would otherwise wait twice where get-user-id waits
    once. release_kept() gives it back if no block takes it.

    Raises DependencyUnavailable when the database cannot be reached and
    Conflict on a unique violation; other driver errors propagate.
    """
    try:
        pool = _get_pool()
        conn = _begin(pool)
        kept = False
        try:
            with conn:  # commits at the end of the block, rolls back on an error
                yield conn
            if keep:
                _kept.value, kept = (pool, conn), True
        finally:
            if not kept:
                pool.putconn(conn)
    except pg_errors.UniqueViolation as exc:
        raise Conflict("this already exists") from exc
    except (PoolTimeout, psycopg.OperationalError) as exc:
        log.warning("database unavailable: %s", type(exc).__name__)
        # The pool retries a lost server with a growing backoff; a fresh pool on the
        # next request reconnects at once when the database is back.
        close_pool()
        raise DependencyUnavailable("the database is unavailable") from exc
