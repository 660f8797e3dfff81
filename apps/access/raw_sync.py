"""raw for synchronous frameworks: a psycopg 3 connection pool and parameterized statements.

psycopg prepares a statement on a connection once it has run prepare_threshold times (set
in apps/cells.toml and recorded with each result), so at steady state these are prepared
statements too. Autocommit: the edit's `UPDATE ... RETURNING` commits by itself, as
asyncpg's does.
"""

from psycopg_pool import ConnectionPool

from apps.access import psycopg_statements as sql
from apps.access.psycopg_statements import connection_options
from apps.contract import SyncBaseStore, feed_from_rows, user_posts_from_rows


class Store(SyncBaseStore):
    def open(self) -> None:
        size = self.settings.pool_size
        self.pool = ConnectionPool(self.settings.dsn, min_size=size, max_size=size, open=True,
                                   kwargs=connection_options(self.settings))
        self.pool.wait(timeout=60)

    def close(self) -> None:
        self.pool.close()

    def one(self, statement: str, params):
        with self.pool.connection() as conn:
            return conn.execute(statement, params).fetchone()

    def fetch(self, user_id: int):
        return self.one(sql.LOOKUP, (user_id,))

    def fetch_by_username(self, username: str):
        return self.one(sql.USERNAME, (username,))

    def fetch_page(self, after: int, limit: int):
        with self.pool.connection() as conn:
            return conn.execute(sql.PAGE, (after, limit)).fetchall()

    def update_bio(self, user_id: int, bio: str):
        return self.one(sql.EDIT, {"id": user_id, "bio": bio})

    def fetch_user_posts(self, user_id: int):
        with self.pool.connection() as conn:
            return user_posts_from_rows(conn.execute(sql.USER_POSTS, (user_id,)).fetchall())

    def fetch_feed(self, before: int, limit: int):
        with self.pool.connection() as conn:
            return feed_from_rows(conn.execute(sql.FEED, (before, limit)).fetchall())
