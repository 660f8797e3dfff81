"""raw for synchronous frameworks: a psycopg 3 connection pool and parameterized statements.

psycopg prepares a statement on a connection once it has run a few times
(prepare_threshold), so at steady state these are prepared statements too. Autocommit:
the edit's `UPDATE ... RETURNING` commits by itself, as asyncpg's does.
"""

from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from apps.contract import (
    EDIT_SQL,
    FEED_SQL,
    LOOKUP_SQL,
    PAGE_SQL,
    USER_POSTS_SQL,
    USERNAME_SQL,
    SyncBaseStore,
    feed_from_rows,
    user_posts_from_rows,
)


def psycopg_placeholders(statement: str) -> str:
    """asyncpg's $1, $2 as psycopg's %s (the parameters are passed in the same order)."""
    return statement.replace("$1", "%s").replace("$2", "%s")


SYNC_LOOKUP_SQL, SYNC_USERNAME_SQL, SYNC_PAGE_SQL, SYNC_USER_POSTS_SQL, SYNC_FEED_SQL = map(
    psycopg_placeholders, (LOOKUP_SQL, USERNAME_SQL, PAGE_SQL, USER_POSTS_SQL, FEED_SQL))
# EDIT_SQL takes (id, bio) as $1, $2 but uses $2 first: psycopg gets them by name.
SYNC_EDIT_SQL = EDIT_SQL.replace("$1", "%(id)s").replace("$2", "%(bio)s")


class Store(SyncBaseStore):
    def open(self) -> None:
        size = self.settings.pool_size
        self.pool = ConnectionPool(self.settings.dsn, min_size=size, max_size=size, open=True,
                                   kwargs={"autocommit": True, "row_factory": dict_row})
        self.pool.wait(timeout=60)

    def close(self) -> None:
        self.pool.close()

    def one(self, statement: str, params):
        with self.pool.connection() as conn:
            return conn.execute(statement, params).fetchone()

    def fetch(self, user_id: int):
        return self.one(SYNC_LOOKUP_SQL, (user_id,))

    def fetch_by_username(self, username: str):
        return self.one(SYNC_USERNAME_SQL, (username,))

    def fetch_page(self, after: int, limit: int):
        with self.pool.connection() as conn:
            return conn.execute(SYNC_PAGE_SQL, (after, limit)).fetchall()

    def update_bio(self, user_id: int, bio: str):
        return self.one(SYNC_EDIT_SQL, {"id": user_id, "bio": bio})

    def fetch_user_posts(self, user_id: int):
        with self.pool.connection() as conn:
            return user_posts_from_rows(conn.execute(SYNC_USER_POSTS_SQL, (user_id,)).fetchall())

    def fetch_feed(self, before: int, limit: int):
        with self.pool.connection() as conn:
            return feed_from_rows(conn.execute(SYNC_FEED_SQL, (before, limit)).fetchall())
