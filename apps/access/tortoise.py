"""tortoise: Tortoise ORM 1.x on its asyncpg backend, as its documentation writes it.

Models with a ForeignKeyField, `get_or_none` and `filter` querysets, the edit as a load
and `save(update_fields=...)` in a transaction, and relationships loaded with
`prefetch_related`: a feed page is its posts, then their authors in one IN query.

Tortoise 1.x keeps its connections in a context; the store opens it in the server's
lifespan task, so it is made the global fallback that request tasks see, as Tortoise's
own FastAPI integration (RegisterTortoise) does. The pool is asyncpg's, opened at full size.
"""

from tortoise import Tortoise, connections, fields
from tortoise.models import Model
from tortoise.transactions import in_transaction

from apps.contract import LATEST_POSTS, BaseStore, UserPosts, as_dict, asyncpg_options, feed_dict, post_dict


class User(Model):
    id = fields.IntField(primary_key=True)
    username = fields.TextField()
    email = fields.TextField()
    full_name = fields.TextField()
    bio = fields.TextField()
    is_active = fields.BooleanField()
    created_at = fields.DatetimeField()

    class Meta:
        table = "users"


class Post(Model):
    id = fields.IntField(primary_key=True)
    author = fields.ForeignKeyField("models.User", related_name="posts", source_field="user_id")
    created_at = fields.DatetimeField()
    title = fields.TextField()
    body = fields.TextField()
    likes = fields.IntField()

    class Meta:
        table = "posts"


def tortoise_url(dsn: str, size: int, options: dict) -> str:
    """Tortoise's URL for asyncpg, the pool at `size` and asyncpg's declared settings (Tortoise
    passes statement_cache_size on to asyncpg's pool)."""
    scheme, rest = dsn.split("://", 1)
    separator = "&" if "?" in rest else "?"
    extra = "".join(f"&{key}={value}" for key, value in options.items())
    return f"asyncpg://{rest}{separator}minsize={size}&maxsize={size}{extra}"


class Store(BaseStore):
    async def open(self) -> None:
        await Tortoise.init(db_url=tortoise_url(self.settings.dsn, self.settings.pool_size,
                                                asyncpg_options(self.settings.options)),
                            modules={"models": [__name__]}, _enable_global_fallback=True)
        await connections.get("default").create_connection(with_db=True)

    async def close(self) -> None:
        await Tortoise.close_connections()

    async def fetch(self, user_id: int):
        user = await User.get_or_none(id=user_id)
        return as_dict(user) if user is not None else None

    async def fetch_by_username(self, username: str):
        user = await User.get_or_none(username=username)
        return as_dict(user) if user is not None else None

    async def fetch_page(self, after: int, limit: int):
        return [as_dict(user) for user in await User.filter(id__gt=after).order_by("id").limit(limit)]

    async def update_bio(self, user_id: int, bio: str):
        async with in_transaction():
            user = await User.get_or_none(id=user_id)
            if user is None:
                return None
            user.bio = bio
            await user.save(update_fields=["bio"])
        return as_dict(user)

    async def fetch_user_posts(self, user_id: int):
        user = await User.get_or_none(id=user_id)
        if user is None:
            return None
        count = await Post.filter(author_id=user_id).count()
        posts = await Post.filter(author_id=user_id).order_by("-created_at", "-id").limit(LATEST_POSTS)
        return UserPosts(as_dict(user), count, [post_dict(post) for post in posts])

    async def fetch_feed(self, before: int, limit: int):
        posts = await Post.filter(id__lt=before).order_by("-id").limit(limit).prefetch_related("author")
        return [feed_dict(post, post.author) for post in posts]
