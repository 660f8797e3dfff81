"""FastAPI's tutorial (path parameters, response model, lifespan events) with asyncpg's pool as
asyncpg's usage guide writes it."""

import os
from contextlib import asynccontextmanager
from datetime import datetime

import asyncpg
from fastapi import FastAPI, HTTPException, Request
from pydantic import BaseModel

POOL_SIZE = int(os.environ["DBBENCH_POOL_SIZE"])


class User(BaseModel):
    id: int
    username: str
    email: str
    full_name: str
    bio: str
    is_active: bool
    created_at: datetime


@asynccontextmanager
async def lifespan(app: FastAPI):
    app.state.pool = await asyncpg.create_pool(os.environ["DATABASE_URL"], min_size=POOL_SIZE, max_size=POOL_SIZE)
    yield
    await app.state.pool.close()


app = FastAPI(lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)


@app.get("/users/{user_id}", response_model=User)
async def read_user(user_id: int, request: Request):
    row = await request.app.state.pool.fetchrow(
        "SELECT id, username, email, full_name, bio, is_active, created_at FROM users WHERE id = $1", user_id)
    if row is None:
        raise HTTPException(status_code=404, detail="user not found")
    return dict(row)
