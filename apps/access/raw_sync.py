"""raw for synchronous frameworks: a psycopg 3 connection pool and one parameterized statement.

psycopg prepares a statement on a connection once it has run a few times
(prepare_threshold), so at steady state this is a prepared statement too.
"""

from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from apps.contract import LOOKUP_SQL, SyncBaseStore

# psycopg's placeholder is %s where asyncpg's is $1.
SYNC_LOOKUP_SQL = LOOKUP_SQL.replace("$1", "%s")


class Store(SyncBaseStore):
    def open(self) -> None:
        size = self.settings.pool_size
        self.pool = ConnectionPool(self.settings.dsn, min_size=size, max_size=size, open=True,
                                   kwargs={"autocommit": True, "row_factory": dict_row})
        self.pool.wait(timeout=60)

    def close(self) -> None:
        self.pool.close()

    def fetch(self, user_id: int):
        with self.pool.connection() as conn:
            return conn.execute(SYNC_LOOKUP_SQL, (user_id,)).fetchone()
