"""GINO's own documentation without its framework extensions, as the cell (a Gino instance, a
db.Model, `set_bind` for the pool, `Model.get` by primary key; the extensions, not installed,
would lend each request a connection of its own), in Sanic's Getting Started and listeners pages
(the pool bound before the server starts, a typed route, `sanic.json`). The timestamp is written
in the contract's form (RFC 3339, UTC, whole seconds). GINO is unmaintained (1.1.0rc1,
SQLAlchemy 1.3): the seed article's stack."""

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


@app.before_server_start
async def setup_db(_app):
    await db.set_bind(os.environ["DATABASE_URL"], min_size=POOL_SIZE, max_size=POOL_SIZE)


@app.after_server_stop
async def close_db(_app):
    await db.pop_bind().close()


@app.get("/users/<user_id:int>")
async def read_user(_request, user_id: int):
    user = await User.get(user_id)
    if user is None:
        return json({"detail": "user not found"}, status=404)
    return json({**user.to_dict(), "created_at": user.created_at.strftime("%Y-%m-%dT%H:%M:%SZ")})
