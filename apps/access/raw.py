"""raw: an asyncpg pool and one parameterized statement, prepared and cached per connection."""

import asyncpg

from apps.contract import LOOKUP_SQL, BaseStore


class Store(BaseStore):
    async def open(self) -> None:
        size = self.settings.pool_size
        self.pool = await asyncpg.create_pool(self.settings.dsn, min_size=size, max_size=size)

    async def close(self) -> None:
        await self.pool.close()

    async def fetch(self, user_id: int):
        # Pool.fetchrow uses the connection's statement cache: prepared once per connection.
        row = await self.pool.fetchrow(LOOKUP_SQL, user_id)
        return dict(row) if row is not None else None
