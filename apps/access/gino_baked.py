"""gino-baked: the same model with baked queries (GINO 1.1.0rc1).

Every statement is baked at import, before the engine exists: GINO compiles each once and
prepares it on every pooled connection when the pool starts. The edit makes the ORM's two
statements, each baked: the load, and the `UPDATE ... RETURNING` that `apply()` sends.
The relationships are gino-orm's statements, baked; the feed's loader goes on at run time
(a baked query's shadow with the loader as its execution option).
"""

from gino import Gino

from apps.access.gino_model import GinoStore, define_post, define_user, gino_feed_dict
from apps.contract import LATEST_POSTS, UserPosts, post_dict

db = Gino()
User = define_user(db)
Post = define_post(db)
user_by_id = db.bake(User.query.where(User.id == db.bindparam("user_id")))
user_by_username = db.bake(User.query.where(User.username == db.bindparam("username")))
users_after = db.bake(User.query.where(User.id > db.bindparam("after")).order_by(User.id)
                      .limit(db.bindparam("limit")))
post_count = db.bake(db.select([db.func.count()]).where(Post.user_id == db.bindparam("user_id")))
latest_posts = db.bake(Post.query.where(Post.user_id == db.bindparam("user_id"))
                       .order_by(Post.created_at.desc(), Post.id.desc()).limit(LATEST_POSTS))
feed_page = db.bake(Post.join(User).select().where(Post.id < db.bindparam("before")).order_by(Post.id.desc())
                    .limit(db.bindparam("limit")))
with_author = Post.load(author=User)
set_bio = db.bake(User.update.values(bio=db.bindparam("bio")).where(User.id == db.bindparam("user_id"))
                  .returning(User.bio))


class Store(GinoStore):
    db = db

    async def fetch(self, user_id: int):
        user = await user_by_id.first(user_id=user_id)
        return user.to_dict() if user is not None else None

    async def fetch_by_username(self, username: str):
        user = await user_by_username.first(username=username)
        return user.to_dict() if user is not None else None

    async def fetch_page(self, after: int, limit: int):
        return [user.to_dict() for user in await users_after.all(after=after, limit=limit)]

    async def update_bio(self, user_id: int, bio: str):
        user = await user_by_id.first(user_id=user_id)
        if user is None:
            return None
        user.bio = await set_bio.scalar(user_id=user_id, bio=bio)
        return user.to_dict()

    async def fetch_user_posts(self, user_id: int):
        user = await user_by_id.first(user_id=user_id)
        if user is None:
            return None
        count = await post_count.scalar(user_id=user_id)
        posts = await latest_posts.all(user_id=user_id)
        return UserPosts(user.to_dict(), count, [post_dict(post) for post in posts])

    async def fetch_feed(self, before: int, limit: int):
        return [gino_feed_dict(post) for post in await feed_page.load(with_author).all(before=before, limit=limit)]
