"""FastAPI's tutorial (path parameters, response model, lifespan events) with psycopg 3's
AsyncConnectionPool as psycopg's pool documentation writes it, rows as dicts (dict_row), and
connections in autocommit (psycopg's transaction page), as the cell's: a lookup needs no
transaction, and without it each request would send a BEGIN and a COMMIT too."""

import os
from contextlib import asynccontextmanager
from datetime import datetime

from fastapi import FastAPI, HTTPException
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool
from pydantic import BaseModel

POOL_SIZE = int(os.environ["DBBENCH_POOL_SIZE"])
pool = AsyncConnectionPool(os.environ["DATABASE_URL"], min_size=POOL_SIZE, max_size=POOL_SIZE, open=False,
                           kwargs={"row_factory": dict_row, "autocommit": True})


class User(BaseModel):
    id: int
    username: str
    email: str
    full_name: str
    bio: str
    is_active: bool
    created_at: datetime


@asynccontextmanager
async def lifespan(_app: FastAPI):
    await pool.open()
    yield
    await pool.close()


app = FastAPI(lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)


@app.get("/users/{user_id}", response_model=User)
async def read_user(user_id: int):
    async with pool.connection() as conn:
        cursor = await conn.execute(
            "SELECT id, username, email, full_name, bio, is_active, created_at FROM users WHERE id = %s", (user_id,))
        row = await cursor.fetchone()
    if row is None:
        raise HTTPException(status_code=404, detail="user not found")
    return row
