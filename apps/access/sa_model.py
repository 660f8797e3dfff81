"""SQLAlchemy 2 (asyncio; asyncpg dialect unless a variant names psycopg): the users and posts
models and the engine the sa-* variants share.

The pool is opened at full size at start-up (SQLAlchemy's pool is lazy by default), with
no overflow, so the pool size means what it says. User.posts and Post.author are plain
relationship()s with the default lazy loading: each variant says how it loads them, and
under asyncio an implicit lazy load is refused, so the lazy variant awaits them explicitly
(AsyncAttrs.awaitable_attrs). Models load whole rows, as an ORM does by default.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime, ForeignKey
from sqlalchemy.ext.asyncio import AsyncAttrs, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from apps.contract import LATEST_POSTS, BaseStore, UserPosts, as_dict, asyncpg_options, post_dict, prepare_threshold


class Base(AsyncAttrs, DeclarativeBase):
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
    posts: Mapped[list[Post]] = relationship(back_populates="author")


class Post(Base):
    __tablename__ = "posts"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    title: Mapped[str]
    body: Mapped[str]
    likes: Mapped[int]
    author: Mapped[User] = relationship(back_populates="posts")


def latest_of(user: User, posts: list[Post]) -> UserPosts:
    """A whole collection cut in Python: what loading the relationship and slicing it gives."""
    newest = sorted(posts, key=lambda post: (post.created_at, post.id), reverse=True)[:LATEST_POSTS]
    return UserPosts(as_dict(user), len(posts), [post_dict(post) for post in newest])


def dialect_url(dsn: str, driver: str) -> str:
    """The DSN with SQLAlchemy's dialect and driver in its scheme."""
    scheme, rest = dsn.split("://", 1)
    return f"postgresql+{driver}://{rest}" if scheme in ("postgres", "postgresql") else dsn


def asyncpg_connect_args(options: dict) -> dict:
    """SQLAlchemy's asyncpg dialect behind a transaction pooler, as its documentation asks:
    asyncpg's statement cache and the dialect's own off, and each statement it still prepares
    (it prepares every one, by name) named uniquely, so that two client connections sharing a
    server connection never collide on a name. Nothing otherwise: the dialect's defaults."""
    args = asyncpg_options(options)
    if "prepared_statement_cache_size" in options:
        args["prepared_statement_cache_size"] = options["prepared_statement_cache_size"]
    if options.get("unique_statement_names"):
        args["prepared_statement_name_func"] = unique_statement_name
    return args


def unique_statement_name() -> str:
    return f"__asyncpg_{uuid.uuid4()}__"


class SAStore(BaseStore):
    """A Store on an AsyncEngine; `engine_options`, `driver` and `session_class` let a variant
    change only its engine or its sessions. psycopg's prepare_threshold comes from
    apps/cells.toml, so it is set on purpose."""

    engine_options: dict = {}
    driver = "asyncpg"
    session_class = AsyncSession  # SQLModel's own subclass in the sqlmodel variant

    async def open(self) -> None:
        size = self.settings.pool_size
        connect_args = ({"prepare_threshold": prepare_threshold(self.settings)} if self.driver == "psycopg"
                        else asyncpg_connect_args(self.settings.options))
        self.engine = create_async_engine(
            dialect_url(self.settings.dsn, self.driver), pool_size=size, max_overflow=0, connect_args=connect_args,
            **self.engine_options,
        )
        self.sessions = async_sessionmaker(self.engine, class_=self.session_class, expire_on_commit=False)
        connections = [await self.engine.connect() for _ in range(size)]
        for connection in connections:
            await connection.close()

    async def close(self) -> None:
        await self.engine.dispose()
