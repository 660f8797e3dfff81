"""gino-baked: the same model with a baked query (GINO 1.1.0rc1).

The query is baked at import, before the engine exists: GINO compiles it once and
prepares it on every pooled connection when the pool starts.
"""

from gino import Gino

from apps.access.gino_model import GinoStore, define_user

db = Gino()
User = define_user(db)
user_by_id = db.bake(User.query.where(User.id == db.bindparam("user_id")))


class Store(GinoStore):
    db = db

    async def fetch(self, user_id: int):
        user = await user_by_id.first(user_id=user_id)
        return user.to_dict() if user is not None else None
