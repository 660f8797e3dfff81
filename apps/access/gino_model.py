"""The GINO models of the users and posts tables and the pool handling both GINO variants share.

Each GINO variant has its own Gino instance, so one variant's baked queries are never
prepared on another variant's connections.
"""

import warnings

# SQLAlchemy 1.3 imports pkg_resources (kept by the setuptools<81 pin) and warns about it.
warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)

from gino import Gino  # noqa: E402

from apps.contract import BaseStore, asyncpg_options, feed_dict  # noqa: E402


def define_user(db: Gino):
    class User(db.Model):
        __tablename__ = "users"

        id = db.Column(db.Integer, primary_key=True)
        username = db.Column(db.Text, nullable=False, unique=True)
        email = db.Column(db.Text, nullable=False)
        full_name = db.Column(db.Text, nullable=False)
        bio = db.Column(db.Text, nullable=False)
        is_active = db.Column(db.Boolean, nullable=False)
        created_at = db.Column(db.DateTime(timezone=True), nullable=False)

    return User


def define_post(db: Gino):
    """GINO has no relationships: a post's author comes through a loader on a JOIN."""

    class Post(db.Model):
        __tablename__ = "posts"

        id = db.Column(db.Integer, primary_key=True)
        user_id = db.Column(db.Integer, db.ForeignKey("users.id"), nullable=False)
        created_at = db.Column(db.DateTime(timezone=True), nullable=False)
        title = db.Column(db.Text, nullable=False)
        body = db.Column(db.Text, nullable=False)
        likes = db.Column(db.Integer, nullable=False)

    return Post


def gino_feed_dict(post) -> dict:
    """A feed entry from a post whose loader attached its author."""
    return feed_dict(post, post.author)


class GinoStore(BaseStore):
    """A Store bound to the variant's Gino instance `db`."""

    db: Gino

    engine = None

    async def open(self) -> None:
        size = self.settings.pool_size
        self.engine = await self.db.set_bind(self.settings.dsn, min_size=size, max_size=size,
                                             **asyncpg_options(self.settings.options))

    async def close(self) -> None:
        if self.engine is not None:
            await self.engine.close()
            self.engine = None
