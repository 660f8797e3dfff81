"""SQLAlchemy 2 (asyncio, asyncpg dialect): the users and posts models and the engine the sa-*
variants share.

The pool is opened at full size at start-up (SQLAlchemy's pool is lazy by default), with
no overflow, so the pool size means what it says. User.posts and Post.author are plain
relationship()s with the default lazy loading: each variant says how it loads them, and
under asyncio an implicit lazy load is refused, so the lazy variant awaits them explicitly
(AsyncAttrs.awaitable_attrs). Models load whole rows, as an ORM does by default.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey
from sqlalchemy.ext.asyncio import AsyncAttrs, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from apps.contract import FIELDS, LATEST_POSTS, POST_FIELDS, BaseStore, UserPosts


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


def as_dict(user: User) -> dict:
    return {name: getattr(user, name) for name in FIELDS}


def post_dict(post: Post) -> dict:
    return {name: getattr(post, name) for name in POST_FIELDS}


def feed_dict(post: Post, author: User) -> dict:
    return {**post_dict(post), "author": {"id": author.id, "username": author.username, "full_name": author.full_name}}


def latest_of(user: User, posts: list[Post]) -> UserPosts:
    """A whole collection cut in Python: what loading the relationship and slicing it gives."""
    newest = sorted(posts, key=lambda post: (post.created_at, post.id), reverse=True)[:LATEST_POSTS]
    return UserPosts(as_dict(user), len(posts), [post_dict(post) for post in newest])


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
