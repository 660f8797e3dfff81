"""FastAPI's tutorial (path parameters, response model) on SQLAlchemy 2's Core, as its Asyncio
page writes it: a Table, a select, a connection from the async engine per request."""

import os
from datetime import datetime

from fastapi import FastAPI, HTTPException
from pydantic import BaseModel
from sqlalchemy import Boolean, Column, DateTime, Integer, MetaData, Table, Text, select
from sqlalchemy.ext.asyncio import create_async_engine

engine = create_async_engine(os.environ["DATABASE_URL"], pool_size=int(os.environ["DBBENCH_POOL_SIZE"]),
                             max_overflow=0)
metadata = MetaData()
users = Table(
    "users", metadata,
    Column("id", Integer, primary_key=True),
    Column("username", Text),
    Column("email", Text),
    Column("full_name", Text),
    Column("bio", Text),
    Column("is_active", Boolean),
    Column("created_at", DateTime(timezone=True)),
)


class User(BaseModel):
    id: int
    username: str
    email: str
    full_name: str
    bio: str
    is_active: bool
    created_at: datetime


app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)


@app.get("/users/{user_id}", response_model=User)
async def read_user(user_id: int):
    async with engine.connect() as conn:
        row = (await conn.execute(select(users).where(users.c.id == user_id))).mappings().first()
    if row is None:
        raise HTTPException(status_code=404, detail="user not found")
    return row
