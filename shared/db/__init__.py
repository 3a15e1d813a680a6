"""PostgreSQL: the connection pool, migrations and named queries. Only this package imports psycopg."""

from shared.db.pool import connection, release_kept

__all__ = ["connection", "release_kept"]
