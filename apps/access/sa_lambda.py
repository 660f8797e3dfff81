"""sa-lambda: the ORM statements as `lambda_stmt`, SQLAlchemy's successor to baked queries.

Each lambda's code location is its cache key; the values it closes over are tracked as
bound parameters. The edit is sa-orm's: a lambda load, the attribute set, a commit. The
unit of work's UPDATE cannot be a lambda; SQLAlchemy caches its compiled form itself.
The relationships are sa-orm's statements (three for a user's posts, a joinedload feed),
each a lambda.
"""

from sqlalchemy import func, lambda_stmt, select
from sqlalchemy.orm import joinedload

from apps.access.sa_model import Post, SAStore, User
from apps.contract import LATEST_POSTS, UserPosts, as_dict, feed_dict, post_dict


class Store(SAStore):
    async def fetch(self, user_id: int):
        async with self.sessions() as session:
            statement = lambda_stmt(lambda: select(User).where(User.id == user_id))
            user = (await session.execute(statement)).scalar_one_or_none()
            return as_dict(user) if user is not None else None

    async def fetch_by_username(self, username: str):
        async with self.sessions() as session:
            statement = lambda_stmt(lambda: select(User).where(User.username == username))
            user = (await session.execute(statement)).scalar_one_or_none()
            return as_dict(user) if user is not None else None

    async def fetch_page(self, after: int, limit: int):
        async with self.sessions() as session:
            statement = lambda_stmt(lambda: select(User).where(User.id > after).order_by(User.id).limit(limit))
            return [as_dict(user) for user in await session.scalars(statement)]

    async def update_bio(self, user_id: int, bio: str):
        async with self.sessions() as session, session.begin():
            statement = lambda_stmt(lambda: select(User).where(User.id == user_id))
            user = (await session.execute(statement)).scalar_one_or_none()
            if user is None:
                return None
            user.bio = bio
        return as_dict(user)

    async def fetch_user_posts(self, user_id: int):
        async with self.sessions() as session:
            statement = lambda_stmt(lambda: select(User).where(User.id == user_id))
            user = (await session.execute(statement)).scalar_one_or_none()
            if user is None:
                return None
            count = (await session.execute(lambda_stmt(
                lambda: select(func.count()).select_from(Post).where(Post.user_id == user_id)))).scalar_one()
            posts = (await session.execute(lambda_stmt(
                lambda: select(Post).where(Post.user_id == user_id).order_by(Post.created_at.desc(), Post.id.desc())
                .limit(LATEST_POSTS)))).scalars()
            return UserPosts(as_dict(user), count, [post_dict(post) for post in posts])

    async def fetch_feed(self, before: int, limit: int):
        async with self.sessions() as session:
            statement = lambda_stmt(lambda: select(Post).where(Post.id < before).order_by(Post.id.desc()).limit(limit)
                                    .options(joinedload(Post.author)))
            return [feed_dict(post, post.author) for post in (await session.execute(statement)).scalars()]
