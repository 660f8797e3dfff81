"""sqlmodel: SQLModel over SQLAlchemy 2 and asyncpg, written as FastAPI's own tutorial teaches.

Models that are both pydantic and SQLAlchemy classes, an AsyncSession per request, a user by
id with `session.get` (the tutorial's read-one), other reads with `session.exec(select(...))`,
and the edit as get, set, add and commit. expire_on_commit is
off (SQLAlchemy's advice under asyncio), so the tutorial's refresh after the commit is not
needed: a load and the unit of work's UPDATE, as in sa-orm. Relationships with SQLAlchemy's
loader options, which SQLModel passes through: a feed joinedloads its authors; a user's
latest posts are a query of their own, with a count beside it.
"""

from datetime import datetime

from sqlalchemy import DateTime, func
from sqlalchemy.orm import joinedload
from sqlmodel import Field, Relationship, SQLModel, select
from sqlmodel.ext.asyncio.session import AsyncSession

from apps.access.sa_model import SAStore
from apps.contract import LATEST_POSTS, UserPosts, as_dict, feed_dict, post_dict


class User(SQLModel, table=True):
    __tablename__ = "users"

    id: int = Field(primary_key=True)
    username: str
    email: str
    full_name: str
    bio: str
    is_active: bool
    created_at: datetime = Field(sa_type=DateTime(timezone=True))
    posts: list["Post"] = Relationship(back_populates="author")


class Post(SQLModel, table=True):
    __tablename__ = "posts"

    id: int = Field(primary_key=True)
    user_id: int = Field(foreign_key="users.id")
    created_at: datetime = Field(sa_type=DateTime(timezone=True))
    title: str
    body: str
    likes: int
    author: User = Relationship(back_populates="posts")


class Store(SAStore):
    """sa-orm's engine and pool, with SQLModel's AsyncSession (which adds `exec`)."""

    session_class = AsyncSession

    async def fetch(self, user_id: int):
        async with self.sessions() as session:
            user = await session.get(User, user_id)
            return as_dict(user) if user is not None else None

    async def fetch_by_username(self, username: str):
        async with self.sessions() as session:
            user = (await session.exec(select(User).where(User.username == username))).first()
            return as_dict(user) if user is not None else None

    async def fetch_page(self, after: int, limit: int):
        async with self.sessions() as session:
            users = await session.exec(select(User).where(User.id > after).order_by(User.id).limit(limit))
            return [as_dict(user) for user in users]

    async def update_bio(self, user_id: int, bio: str):
        async with self.sessions() as session:
            user = await session.get(User, user_id)
            if user is None:
                return None
            user.bio = bio
            session.add(user)
            await session.commit()
            return as_dict(user)

    async def fetch_user_posts(self, user_id: int):
        async with self.sessions() as session:
            user = await session.get(User, user_id)
            if user is None:
                return None
            count = (await session.exec(select(func.count()).select_from(Post).where(Post.user_id == user_id))).one()
            posts = await session.exec(select(Post).where(Post.user_id == user_id)
                                       .order_by(Post.created_at.desc(), Post.id.desc()).limit(LATEST_POSTS))
            return UserPosts(as_dict(user), count, [post_dict(post) for post in posts])

    async def fetch_feed(self, before: int, limit: int):
        async with self.sessions() as session:
            posts = await session.exec(select(Post).where(Post.id < before).order_by(Post.id.desc()).limit(limit)
                                       .options(joinedload(Post.author)))
            return [feed_dict(post, post.author) for post in posts]
