"""gino-orm: the GINO model, with the ORM query built and compiled on every request."""

from gino import Gino

from apps.access.gino_model import GinoStore, define_user

db = Gino()
User = define_user(db)


class Store(GinoStore):
    db = db

    async def fetch(self, user_id: int):
        user = await User.query.where(User.id == user_id).gino.first()
        return user.to_dict() if user is not None else None
