"""gino-baked: the same model with baked queries (GINO 1.1.0rc1).

Every statement is baked at import, before the engine exists: GINO compiles each once and
prepares it on every pooled connection when the pool starts. The edit makes the ORM's two
statements, each baked: the load, and the `UPDATE ... RETURNING` that `apply()` sends.
"""

from gino import Gino

from apps.access.gino_model import GinoStore, define_user

db = Gino()
User = define_user(db)
user_by_id = db.bake(User.query.where(User.id == db.bindparam("user_id")))
user_by_username = db.bake(User.query.where(User.username == db.bindparam("username")))
users_after = db.bake(User.query.where(User.id > db.bindparam("after")).order_by(User.id)
                      .limit(db.bindparam("limit")))
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
