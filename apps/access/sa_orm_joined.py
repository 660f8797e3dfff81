"""sa-orm-joined: both relationships loaded with joinedload: one statement each, a LEFT OUTER
JOIN. A user's posts come back whole, one row per post with the user's columns repeated,
and are counted and cut in Python; a feed page joins its authors. Everything else is
sa-orm's code.
"""

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from apps.access import sa_orm
from apps.access.sa_model import Post, User, latest_of
from apps.contract import feed_dict


class Store(sa_orm.Store):
    async def fetch_user_posts(self, user_id: int):
        async with self.sessions() as session:
            result = await session.execute(select(User).where(User.id == user_id).options(joinedload(User.posts)))
            user = result.unique().scalar_one_or_none()
            return latest_of(user, user.posts) if user is not None else None

    async def fetch_feed(self, before: int, limit: int):
        async with self.sessions() as session:
            posts = await session.scalars(select(Post).where(Post.id < before).order_by(Post.id.desc()).limit(limit)
                                          .options(joinedload(Post.author)))
            return [feed_dict(post, post.author) for post in posts]
