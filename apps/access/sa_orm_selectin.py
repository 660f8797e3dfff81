"""sa-orm-selectin: both relationships loaded with selectinload, the loader SQLAlchemy's guide
recommends for collections: the parents, then every child of them in one `IN` statement.
Two statements for a user with all their posts (counted and cut in Python), two for a feed
page and its authors. Everything else is sa-orm's code.
"""

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from apps.access import sa_orm
from apps.access.sa_model import Post, User, latest_of
from apps.contract import feed_dict


class Store(sa_orm.Store):
    async def fetch_user_posts(self, user_id: int):
        async with self.sessions() as session:
            user = await session.scalar(select(User).where(User.id == user_id).options(selectinload(User.posts)))
            return latest_of(user, user.posts) if user is not None else None

    async def fetch_feed(self, before: int, limit: int):
        async with self.sessions() as session:
            posts = await session.scalars(select(Post).where(Post.id < before).order_by(Post.id.desc()).limit(limit)
                                          .options(selectinload(Post.author)))
            return [feed_dict(post, post.author) for post in posts]
