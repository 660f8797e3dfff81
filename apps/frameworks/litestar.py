"""Litestar on uvicorn (uvloop, httptools).

Idiomatic: a typed `{user_id:int}` path parameter (no match, so 404, for a malformed id)
and a msgspec Struct return type, which
Litestar validates and serializes itself (datetimes as RFC 3339 with Z).
"""

from datetime import datetime

import msgspec
from litestar import Litestar, get
from litestar.exceptions import NotFoundException

from apps.contract import NOT_FOUND, open_store
from apps.servers import uvicorn_serve


class User(msgspec.Struct):
    id: int
    username: str
    email: str
    full_name: str
    bio: str
    is_active: bool
    created_at: datetime


def create_app() -> Litestar:
    store = open_store()

    @get("/users/{user_id:int}")
    async def get_user(user_id: int) -> User:
        user = await store.get_user(user_id)
        if user is None:
            raise NotFoundException(detail=NOT_FOUND["detail"])
        return User(**user)

    return Litestar(route_handlers=[get_user], on_startup=[store.open], on_shutdown=[store.close],
                    logging_config=None, debug=False)


def serve(host: str, port: int, workers: int) -> None:
    uvicorn_serve("apps.frameworks.litestar:create_app", host, port, workers)
