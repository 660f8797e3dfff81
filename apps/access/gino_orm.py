"""gino-orm: the GINO model, with every ORM query built and compiled on every request.

The edit is what a GINO user writes: load the user, then `user.update(bio=...).apply()`,
a read and an `UPDATE ... RETURNING` of the changed column. A feed page is GINO's loader on
a JOIN (one statement); a user's posts are the user, a count and the latest posts.
"""

from gino import Gino

from apps.access.gino_model import GinoStore, define_post, define_user, gino_feed_dict
from apps.contract import LATEST_POSTS, UserPosts, post_dict

db = Gino()
User = define_user(db)
Post = define_post(db)


class Store(GinoStore):
    db = db

    async def fetch(self, user_id: int):
        user = await User.query.where(User.id == user_id).gino.first()
        return user.to_dict() if user is not None else None

    async def fetch_by_username(self, username: str):
        user = await User.query.where(User.username == username).gino.first()
        return user.to_dict() if user is not None else None

    async def fetch_page(self, after: int, limit: int):
        users = await User.query.where(User.id > after).order_by(User.id).limit(limit).gino.all()
        return [user.to_dict() for user in users]

    async def update_bio(self, user_id: int, bio: str):
        user = await User.query.where(User.id == user_id).gino.first()
        if user is None:
            return None
        await user.update(bio=bio).apply()
        return user.to_dict()

    async def fetch_user_posts(self, user_id: int):
        user = await User.get(user_id)
        if user is None:
            return None
        count = await db.select([db.func.count()]).where(Post.user_id == user_id).gino.scalar()
        posts = await Post.query.where(Post.user_id == user_id).order_by(Post.created_at.desc(), Post.id.desc()) \
            .limit(LATEST_POSTS).gino.all()
        return UserPosts(user.to_dict(), count, [post_dict(post) for post in posts])

    async def fetch_feed(self, before: int, limit: int):
        query = Post.join(User).select().where(Post.id < before).order_by(Post.id.desc()).limit(limit)
        return [gino_feed_dict(post) for post in await query.gino.load(Post.load(author=User)).all()]
