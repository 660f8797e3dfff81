"""piccolo: Piccolo 1.x on asyncpg, as its documentation writes it.

Tables as classes; reads as `select()` queries, which return dicts (a user's, `select()` of the
whole table, whose columns are the contract's: naming them made each lookup build seven column
expressions, measured against the minimal app in instructions); the edit as an object
loaded with `objects().get()` and `save()` of the changed column, in a transaction; the
feed's authors through a join on the foreign key (`Post.author.username`), one statement.
Piccolo keeps asyncpg's pool on its engine, opened at full size at start-up.
"""

from piccolo.columns import Boolean, ForeignKey, Integer, Text, Timestamptz
from piccolo.engine.postgres import PostgresEngine
from piccolo.table import Table

from apps.contract import (
    LATEST_POSTS,
    POST_FIELDS,
    BaseStore,
    UserPosts,
    as_dict,
    asyncpg_options,
    feed_from_rows,
)


class User(Table, tablename="users"):
    username = Text()
    email = Text()
    full_name = Text()
    bio = Text()
    is_active = Boolean()
    created_at = Timestamptz()


class Post(Table, tablename="posts"):
    author = ForeignKey(references=User, db_column_name="user_id")
    created_at = Timestamptz()
    title = Text()
    body = Text()
    likes = Integer()


POST_COLUMNS = [getattr(Post, name) for name in POST_FIELDS]
AUTHOR_COLUMNS = [Post.author.id.as_alias("author_id"), Post.author.username.as_alias("username"),
                  Post.author.full_name.as_alias("full_name")]


class Store(BaseStore):
    async def open(self) -> None:
        size = self.settings.pool_size
        self.engine = PostgresEngine(config={"dsn": self.settings.dsn, **asyncpg_options(self.settings.options)},
                                     log_queries=False)
        for table in (User, Post):
            table._meta.db = self.engine
        await self.engine.start_connection_pool(min_size=size, max_size=size)

    async def close(self) -> None:
        await self.engine.close_connection_pool()

    async def fetch(self, user_id: int):
        return await User.select().where(User.id == user_id).first()

    async def fetch_by_username(self, username: str):
        return await User.select().where(User.username == username).first()

    async def fetch_page(self, after: int, limit: int):
        return await User.select().where(User.id > after).order_by(User.id).limit(limit)

    async def update_bio(self, user_id: int, bio: str):
        async with self.engine.transaction():
            user = await User.objects().get(User.id == user_id)
            if user is None:
                return None
            user.bio = bio
            await user.save([User.bio])
        return as_dict(user)

    async def fetch_user_posts(self, user_id: int):
        user = await self.fetch(user_id)
        if user is None:
            return None
        count = await Post.count().where(Post.author == user_id)
        posts = await (Post.select(*POST_COLUMNS).where(Post.author == user_id)
                       .order_by(Post.created_at, Post.id, ascending=False).limit(LATEST_POSTS))
        return UserPosts(user, count, posts)

    async def fetch_feed(self, before: int, limit: int):
        return feed_from_rows(await Post.select(*POST_COLUMNS, *AUTHOR_COLUMNS).where(Post.id < before)
                              .order_by(Post.id, ascending=False).limit(limit))
