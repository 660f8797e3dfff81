"""Tortoise ORM's FastAPI example: RegisterTortoise in the lifespan, a pydantic model made from
the Tortoise model (pydantic_model_creator), `from_queryset_single(User.get(...))`, and
Tortoise's exception handlers turning DoesNotExist into a 404. asyncpg's pool is sized in the
URL (minsize, maxsize), as Tortoise's database URL documentation writes it."""

import os
from contextlib import asynccontextmanager

from fastapi import FastAPI
from tortoise import fields
from tortoise.contrib.fastapi import RegisterTortoise, tortoise_exception_handlers
from tortoise.contrib.pydantic import pydantic_model_creator
from tortoise.models import Model

POOL_SIZE = int(os.environ["DBBENCH_POOL_SIZE"])
DATABASE_URL = os.environ["DATABASE_URL"]
DB_URL = f"{DATABASE_URL}{'&' if '?' in DATABASE_URL else '?'}minsize={POOL_SIZE}&maxsize={POOL_SIZE}"


class User(Model):
    id = fields.IntField(primary_key=True)
    username = fields.TextField()
    email = fields.TextField()
    full_name = fields.TextField()
    bio = fields.TextField()
    is_active = fields.BooleanField()
    created_at = fields.DatetimeField()

    class Meta:
        table = "users"


User_Pydantic = pydantic_model_creator(User, name="User")


@asynccontextmanager
async def lifespan(app: FastAPI):
    async with RegisterTortoise(app, db_url=DB_URL, modules={"models": [__name__]}, generate_schemas=False):
        yield


app = FastAPI(lifespan=lifespan, exception_handlers=tortoise_exception_handlers(), docs_url=None, redoc_url=None,
              openapi_url=None)


@app.get("/users/{user_id}", response_model=User_Pydantic)
async def read_user(user_id: int):
    return await User_Pydantic.from_queryset_single(User.get(id=user_id))
