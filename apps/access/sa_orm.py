"""sa-orm: an AsyncSession per request and ORM statements, with SQLAlchemy's defaults.

SQLAlchemy >= 1.4 caches the compiled SQL of every statement by default: this is the
plain ORM code most people run, with that cache on. A user by id is `session.get`, the ORM's
idiom for a primary key, as FastAPI's tutorial and the minimal app write it
(apps/minimal/fastapi_sqlalchemy_orm.py). The edit loads the user, sets the attribute and
commits: a read and the unit of work's UPDATE, in one transaction.

Relationships as SQLAlchemy's loading guide recommends: a many-to-one (a feed post's author)
eagerly with joinedload, one statement; a large one-to-many cut to a few rows (a user's
latest posts) as a query of its own, with a count beside it: three statements, and never
the hundreds of posts a prolific user has.
"""

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from apps.access.sa_model import Post, SAStore, User
from apps.contract import LATEST_POSTS, UserPosts, as_dict, feed_dict, post_dict


class Store(SAStore):
    async def fetch(self, user_id: int):
        async with self.sessions() as session:
            user = await session.get(User, user_id)
            return as_dict(user) if user is not None else None

    async def fetch_by_username(self, username: str):
        async with self.sessions() as session:
            user = (await session.execute(select(User).where(User.username == username))).scalar_one_or_none()
            return as_dict(user) if user is not None else None

    async def fetch_page(self, after: int, limit: int):
        async with self.sessions() as session:
            users = await session.scalars(select(User).where(User.id > after).order_by(User.id).limit(limit))
            return [as_dict(user) for user in users]

    async def update_bio(self, user_id: int, bio: str):
        async with self.sessions() as session, session.begin():
            user = await session.get(User, user_id)
            if user is None:
                return None
            user.bio = bio
        return as_dict(user)

    async def fetch_user_posts(self, user_id: int):
        async with self.sessions() as session:
            user = await session.get(User, user_id)
            if user is None:
                return None
            count = await session.scalar(select(func.count()).select_from(Post).where(Post.user_id == user_id))
            posts = await session.scalars(select(Post).where(Post.user_id == user_id)
                                          .order_by(Post.created_at.desc(), Post.id.desc()).limit(LATEST_POSTS))
            return UserPosts(as_dict(user), count, [post_dict(post) for post in posts])

    async def fetch_feed(self, before: int, limit: int):
        async with self.sessions() as session:
            posts = await session.scalars(select(Post).where(Post.id < before).order_by(Post.id.desc()).limit(limit)
                                          .options(joinedload(Post.author)))
            return [feed_dict(post, post.author) for post in posts]
