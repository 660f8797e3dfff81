"""SQLAlchemy 2 (asyncio, asyncpg dialect): the users model and the engine the sa-* variants share.

The pool is opened at full size at start-up (SQLAlchemy's pool is lazy by default), with
no overflow, so the pool size means what it says.
"""

from datetime import datetime

from sqlalchemy import DateTime
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from apps.contract import FIELDS, BaseStore


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


def as_dict(user: User) -> dict:
    return {name: getattr(user, name) for name in FIELDS}


def asyncpg_url(dsn: str) -> str:
    scheme, rest = dsn.split("://", 1)
    return f"postgresql+asyncpg://{rest}" if scheme in ("postgres", "postgresql") else dsn


class SAStore(BaseStore):
    """A Store on an AsyncEngine; `engine_options` lets a variant change only its engine."""

    engine_options: dict = {}

    async def open(self) -> None:
        size = self.settings.pool_size
        self.engine = create_async_engine(
            asyncpg_url(self.settings.dsn), pool_size=size, max_overflow=0, **self.engine_options
        )
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        connections = [await self.engine.connect() for _ in range(size)]
        for connection in connections:
            await connection.close()

    async def close(self) -> None:
        await self.engine.dispose()
