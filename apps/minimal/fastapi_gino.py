"""GINO's own documentation without its framework extensions, as the cell (a Gino instance, a
db.Model, `set_bind` for the pool, `Model.get` by primary key; the extensions, not installed,
would lend each request a connection of its own), inside FastAPI's tutorial (path parameters,
response model, lifespan events). GINO is unmaintained (1.1.0rc1, SQLAlchemy 1.3): the seed
article's stack."""

import os
import warnings
from contextlib import asynccontextmanager
from datetime import datetime

warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)

from fastapi import FastAPI, HTTPException  # noqa: E402
from gino import Gino  # noqa: E402
from pydantic import BaseModel  # noqa: E402

POOL_SIZE = int(os.environ["DBBENCH_POOL_SIZE"])
db = Gino()


class User(db.Model):
    __tablename__ = "users"

    id = db.Column(db.Integer, primary_key=True)
    username = db.Column(db.Text)
    email = db.Column(db.Text)
    full_name = db.Column(db.Text)
    bio = db.Column(db.Text)
    is_active = db.Column(db.Boolean)
    created_at = db.Column(db.DateTime(timezone=True))


class UserOut(BaseModel):
    id: int
    username: str
    email: str
    full_name: str
    bio: str
    is_active: bool
    created_at: datetime


@asynccontextmanager
async def lifespan(_app: FastAPI):
    await db.set_bind(os.environ["DATABASE_URL"], min_size=POOL_SIZE, max_size=POOL_SIZE)
    yield
    await db.pop_bind().close()


app = FastAPI(lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)


@app.get("/users/{user_id}", response_model=UserOut)
async def read_user(user_id: int):
    user = await User.get(user_id)
    if user is None:
        raise HTTPException(status_code=404, detail="user not found")
    return user.to_dict()
