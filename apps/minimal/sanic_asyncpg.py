"""Sanic's Getting Started and listeners pages (an app, a typed route, the pool made before the
server starts and kept on app.ctx, `sanic.json`) with asyncpg's pool as asyncpg's usage guide
writes it. The timestamp is written in the contract's form (RFC 3339, UTC, whole seconds)."""

import os

import asyncpg
from sanic import Sanic, json

POOL_SIZE = int(os.environ["DBBENCH_POOL_SIZE"])
app = Sanic("UserService")
app.config.ACCESS_LOG = False


@app.before_server_start
async def setup_db(app):
    app.ctx.pool = await asyncpg.create_pool(os.environ["DATABASE_URL"], min_size=POOL_SIZE, max_size=POOL_SIZE)


@app.after_server_stop
async def close_db(app):
    await app.ctx.pool.close()


@app.get("/users/<user_id:int>")
async def read_user(request, user_id: int):
    row = await request.app.ctx.pool.fetchrow(
        "SELECT id, username, email, full_name, bio, is_active, created_at FROM users WHERE id = $1", user_id)
    if row is None:
        return json({"detail": "user not found"}, status=404)
    return json({**row, "created_at": row["created_at"].strftime("%Y-%m-%dT%H:%M:%SZ")})
