"""raw-psycopg: raw's statements on psycopg 3's AsyncConnectionPool; the driver is the only change.

asyncpg prepares every statement the first time it runs on a connection; psycopg runs a
statement unprepared until it has run prepare_threshold times on that connection, then
prepares it. The threshold is declared in apps/cells.toml and recorded with the results, so
the driver's price in a run is the price at a stated setting.
"""

from psycopg_pool import AsyncConnectionPool

from apps.access import psycopg_statements as sql
from apps.access.psycopg_statements import connection_options
from apps.contract import BaseStore, feed_from_rows, user_posts_from_rows


class Store(BaseStore):
    async def open(self) -> None:
        size = self.settings.pool_size
        self.pool = AsyncConnectionPool(self.settings.dsn, min_size=size, max_size=size, open=False,
                                        kwargs=connection_options(self.settings))
        await self.pool.open(wait=True, timeout=60)

    async def close(self) -> None:
        await self.pool.close()

    async def one(self, statement: str, params):
        async with self.pool.connection() as conn:
            return await (await conn.execute(statement, params)).fetchone()

    async def all(self, statement: str, params) -> list:
        async with self.pool.connection() as conn:
            return await (await conn.execute(statement, params)).fetchall()

    async def fetch(self, user_id: int):
        return await self.one(sql.LOOKUP, (user_id,))

    async def fetch_by_username(self, username: str):
        return await self.one(sql.USERNAME, (username,))

    async def fetch_page(self, after: int, limit: int):
        return await self.all(sql.PAGE, (after, limit))

    async def update_bio(self, user_id: int, bio: str):
        return await self.one(sql.EDIT, {"id": user_id, "bio": bio})

    async def fetch_user_posts(self, user_id: int):
        return user_posts_from_rows(await self.all(sql.USER_POSTS, (user_id,)))

    async def fetch_feed(self, before: int, limit: int):
        return feed_from_rows(await self.all(sql.FEED, (before, limit)))
