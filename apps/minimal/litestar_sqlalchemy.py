"""Litestar's tutorial on making an app persistent with SQLAlchemy, without its plugin: the engine
made in a lifespan context manager and kept on app.state, a session in a transaction provided as a
dependency, `session.get` by primary key, and a msgspec Struct as the return type."""

import os
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from datetime import datetime

import msgspec
from litestar import Litestar, get
from litestar.datastructures import State
from litestar.exceptions import NotFoundException
from sqlalchemy import DateTime
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

sessionmaker = async_sessionmaker(expire_on_commit=False)


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str]
    email: Mapped[str]
    full_name: Mapped[str]
    bio: Mapped[str]
    is_active: Mapped[bool]
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class UserOut(msgspec.Struct):
    id: int
    username: str
    email: str
    full_name: str
    bio: str
    is_active: bool
    created_at: datetime


@asynccontextmanager
async def db_connection(app: Litestar) -> AsyncGenerator[None, None]:
    engine = getattr(app.state, "engine", None)
    if engine is None:
        engine = create_async_engine(os.environ["DATABASE_URL"], pool_size=int(os.environ["DBBENCH_POOL_SIZE"]),
                                     max_overflow=0)
        app.state.engine = engine
    try:
        yield
    finally:
        await engine.dispose()


async def provide_transaction(state: State) -> AsyncGenerator[AsyncSession, None]:
    async with sessionmaker(bind=state.engine) as session, session.begin():
        yield session


@get("/users/{user_id:int}")
async def read_user(user_id: int, transaction: AsyncSession) -> UserOut:
    user = await transaction.get(User, user_id)
    if user is None:
        raise NotFoundException(detail="user not found")
    return UserOut(id=user.id, username=user.username, email=user.email, full_name=user.full_name, bio=user.bio,
                   is_active=user.is_active, created_at=user.created_at)


app = Litestar([read_user], dependencies={"transaction": provide_transaction}, lifespan=[db_connection])
