"""sa-orm-lazy: the relationships as people first write them, loaded when first touched.

Under asyncio SQLAlchemy refuses an implicit lazy load, so each one is awaited through
AsyncAttrs.awaitable_attrs: a feed page loads its posts, then each post's author, one
statement per distinct author (the session's identity map answers a repeated one): N+1.
A user's posts load the whole collection, which is counted and cut in Python. Everything
else is sa-orm's code.
"""

from sqlalchemy import select

from apps.access import sa_orm
from apps.access.sa_model import Post, User, latest_of
from apps.contract import feed_dict


class Store(sa_orm.Store):
    async def fetch_user_posts(self, user_id: int):
        async with self.sessions() as session:
            user = await session.get(User, user_id)
            if user is None:
                return None
            return latest_of(user, await user.awaitable_attrs.posts)

    async def fetch_feed(self, before: int, limit: int):
        async with self.sessions() as session:
            posts = await session.scalars(select(Post).where(Post.id < before).order_by(Post.id.desc()).limit(limit))
            return [feed_dict(post, await post.awaitable_attrs.author) for post in posts.all()]
