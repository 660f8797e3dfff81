"""GINO's Baked Queries page (`db.bake` at import, prepared on every pooled connection when the
pool starts, run by its bound parameter) in Sanic's Getting Started and listeners pages. The
timestamp is written in the contract's form (RFC 3339, UTC, whole seconds). GINO is
unmaintained (1.1.0rc1, SQLAlchemy 1.3): the seed article's stack."""

import os
import warnings

warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)

from gino import Gino  # noqa: E402
from sanic import Sanic, json  # noqa: E402

POOL_SIZE = int(os.environ["DBBENCH_POOL_SIZE"])
db = Gino()
app = Sanic("UserService")
app.config.ACCESS_LOG = False


class User(db.Model):
    __tablename__ = "users"

    id = db.Column(db.Integer, primary_key=True)
    username = db.Column(db.Text)
    email = db.Column(db.Text)
    full_name = db.Column(db.Text)
    bio = db.Column(db.Text)
    is_active = db.Column(db.Boolean)
    created_at = db.Column(db.DateTime(timezone=True))


user_getter = db.bake(User.query.where(User.id == db.bindparam("uid")))


@app.before_server_start
async def setup_db(_app):
    await db.set_bind(os.environ["DATABASE_URL"], min_size=POOL_SIZE, max_size=POOL_SIZE)


@app.after_server_stop
async def close_db(_app):
    await db.pop_bind().close()


@app.get("/users/<user_id:int>")
async def read_user(_request, user_id: int):
    user = await user_getter.first(uid=user_id)
    if user is None:
        return json({"detail": "user not found"}, status=404)
    return json({**user.to_dict(), "created_at": user.created_at.strftime("%Y-%m-%dT%H:%M:%SZ")})
