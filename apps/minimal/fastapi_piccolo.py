"""Piccolo's FastAPI template (`piccolo asgi new`): a Table bound to a PostgresEngine, its pool
started and closed in the lifespan, a pydantic model made from the table
(create_pydantic_model), and a select returning a dict."""

import os
from contextlib import asynccontextmanager

from fastapi import FastAPI, HTTPException
from piccolo.columns import Boolean, Text, Timestamptz
from piccolo.engine.postgres import PostgresEngine
from piccolo.table import Table
from piccolo.utils.pydantic import create_pydantic_model

POOL_SIZE = int(os.environ["DBBENCH_POOL_SIZE"])
DB = PostgresEngine(config={"dsn": os.environ["DATABASE_URL"]})


class User(Table, tablename="users", db=DB):
    username = Text()
    email = Text()
    full_name = Text()
    bio = Text()
    is_active = Boolean()
    created_at = Timestamptz()


UserModelOut = create_pydantic_model(User, include_default_columns=True, model_name="UserModelOut")


@asynccontextmanager
async def lifespan(_app: FastAPI):
    await DB.start_connection_pool(min_size=POOL_SIZE, max_size=POOL_SIZE)
    yield
    await DB.close_connection_pool()


app = FastAPI(lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)


@app.get("/users/{user_id}", response_model=UserModelOut)
async def read_user(user_id: int):
    user = await User.select().where(User.id == user_id).first()
    if user is None:
        raise HTTPException(status_code=404, detail="user not found")
    return user
