"""FastAPI's SQL (Relational) Databases tutorial with SQLModel: a table model that is also the
response model, a session dependency and `session.get`; async, as the cell is, on SQLModel's
AsyncSession over the asyncpg engine (the tutorial itself is synchronous)."""

import os
from datetime import datetime
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException
from sqlalchemy import DateTime
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel import Field, SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

engine = create_async_engine(os.environ["DATABASE_URL"], pool_size=int(os.environ["DBBENCH_POOL_SIZE"]),
                             max_overflow=0)


class User(SQLModel, table=True):
    __tablename__ = "users"

    id: int = Field(primary_key=True)
    username: str
    email: str
    full_name: str
    bio: str
    is_active: bool
    created_at: datetime = Field(sa_type=DateTime(timezone=True))


async def get_session():
    async with AsyncSession(engine) as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]
app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)


@app.get("/users/{user_id}", response_model=User)
async def read_user(user_id: int, session: SessionDep):
    user = await session.get(User, user_id)
    if user is None:
        raise HTTPException(status_code=404, detail="user not found")
    return user
