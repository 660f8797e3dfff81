"""MicroPie's README (an App subclass whose methods are its routes, the path's next segment as an
argument, startup and shutdown handlers, a dict returned as JSON) with asyncpg's pool as
asyncpg's usage guide writes it. The timestamp is written in the contract's form (RFC 3339, UTC,
whole seconds)."""

import os

import asyncpg
from micropie import App

POOL_SIZE = int(os.environ["DBBENCH_POOL_SIZE"])


class Root(App):
    pool = None

    async def users(self, user_id):
        row = await self.pool.fetchrow(
            "SELECT id, username, email, full_name, bio, is_active, created_at FROM users WHERE id = $1", int(user_id))
        if row is None:
            return 404, {"detail": "user not found"}
        return {**row, "created_at": row["created_at"].strftime("%Y-%m-%dT%H:%M:%SZ")}


async def open_pool():
    Root.pool = await asyncpg.create_pool(os.environ["DATABASE_URL"], min_size=POOL_SIZE, max_size=POOL_SIZE)


async def close_pool():
    await Root.pool.close()


app = Root()
app.startup_handlers.append(open_pool)
app.shutdown_handlers.append(close_pool)
