"""sa-core: Core statements on the table through the async engine, no ORM objects.

Beside sa-orm it splits the ORM's cost into statement compilation and object hydration.
The edit is one `UPDATE ... RETURNING` in a transaction, the Core way to write. A user's
posts and the feed are raw's one JOIN each, written in the expression language.
"""

from sqlalchemy import func, select, true, update

from apps.access.sa_model import Post, SAStore, User
from apps.contract import LATEST_POSTS, feed_from_rows, user_posts_from_rows

users = User.__table__
posts = Post.__table__


class Store(SAStore):
    async def one(self, statement):
        async with self.engine.connect() as connection:
            row = (await connection.execute(statement)).mappings().first()
            return dict(row) if row is not None else None

    async def fetch(self, user_id: int):
        return await self.one(select(users).where(users.c.id == user_id))

    async def fetch_by_username(self, username: str):
        return await self.one(select(users).where(users.c.username == username))

    async def fetch_page(self, after: int, limit: int):
        async with self.engine.connect() as connection:
            statement = select(users).where(users.c.id > after).order_by(users.c.id).limit(limit)
            return [dict(row) for row in (await connection.execute(statement)).mappings()]

    async def update_bio(self, user_id: int, bio: str):
        async with self.engine.begin() as connection:
            statement = update(users).where(users.c.id == user_id).values(bio=bio).returning(*users.c)
            row = (await connection.execute(statement)).mappings().first()
            return dict(row) if row is not None else None

    async def fetch_user_posts(self, user_id: int):
        latest = (select(posts.c.id.label("post_id"), posts.c.title, posts.c.created_at.label("post_created_at"),
                         posts.c.likes)
                  .where(posts.c.user_id == users.c.id)
                  .order_by(posts.c.created_at.desc(), posts.c.id.desc()).limit(LATEST_POSTS).lateral("p"))
        count = select(func.count()).where(posts.c.user_id == users.c.id).scalar_subquery().label("post_count")
        statement = (select(*users.c, count, latest).select_from(users.outerjoin(latest, true()))
                     .where(users.c.id == user_id).order_by(latest.c.post_created_at.desc(), latest.c.post_id.desc()))
        async with self.engine.connect() as connection:
            return user_posts_from_rows(list((await connection.execute(statement)).mappings()))

    async def fetch_feed(self, before: int, limit: int):
        statement = (select(posts.c.id, posts.c.title, posts.c.created_at, posts.c.likes,
                            users.c.id.label("author_id"), users.c.username, users.c.full_name)
                     .join_from(posts, users, posts.c.user_id == users.c.id)
                     .where(posts.c.id < before).order_by(posts.c.id.desc()).limit(limit))
        async with self.engine.connect() as connection:
            return feed_from_rows(list((await connection.execute(statement)).mappings()))
