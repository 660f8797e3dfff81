"""gino-orm: the GINO model, with every ORM query built and compiled on every request.

The edit is what a GINO user writes: load the user, then `user.update(bio=...).apply()`,
a read and an `UPDATE ... RETURNING` of the changed column.
"""

from gino import Gino

from apps.access.gino_model import GinoStore, define_user

db = Gino()
User = define_user(db)


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
