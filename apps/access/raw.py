"""raw: an asyncpg pool and parameterized statements, prepared and cached per connection.

The edit is one `UPDATE ... RETURNING`: the write a raw-SQL author makes. A user's posts
and the feed are one JOIN each.
"""

import asyncpg

from apps.contract import (
    EDIT_SQL,
    FEED_SQL,
    LOOKUP_SQL,
    PAGE_SQL,
    USER_POSTS_SQL,
    USERNAME_SQL,
    BaseStore,
    asyncpg_options,
    feed_from_rows,
    user_posts_from_rows,
)


class Store(BaseStore):
    async def open(self) -> None:
        size = self.settings.pool_size
        self.pool = await asyncpg.create_pool(self.settings.dsn, min_size=size, max_size=size,
                                              **asyncpg_options(self.settings.options))

    async def close(self) -> None:
        await self.pool.close()

    # Pool.fetchrow and Pool.fetch use the connection's statement cache: each statement is
    # prepared once per connection.
    async def fetch(self, user_id: int):
        row = await self.pool.fetchrow(LOOKUP_SQL, user_id)
        return dict(row) if row is not None else None

    async def fetch_by_username(self, username: str):
        row = await self.pool.fetchrow(USERNAME_SQL, username)
        return dict(row) if row is not None else None

    async def fetch_page(self, after: int, limit: int):
        return [dict(row) for row in await self.pool.fetch(PAGE_SQL, after, limit)]

    async def update_bio(self, user_id: int, bio: str):
        row = await self.pool.fetchrow(EDIT_SQL, user_id, bio)
        return dict(row) if row is not None else None

    async def fetch_user_posts(self, user_id: int):
        return user_posts_from_rows(await self.pool.fetch(USER_POSTS_SQL, user_id))

    async def fetch_feed(self, before: int, limit: int):
        return feed_from_rows(await self.pool.fetch(FEED_SQL, before, limit))
