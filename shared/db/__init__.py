"""PostgreSQL: the connection pool, migrations and named queries. Only this package imports psycopg."""

from shared.db.pool import connection, lost_mid_transaction, request_scope

__all__ = ["connection", "lost_mid_transaction", "request_scope"]
