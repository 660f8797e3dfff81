"""Litestar on uvicorn (uvloop, httptools).

Idiomatic: a typed `{user_id:int}` path parameter (no match, so 404, for a malformed id)
and a msgspec Struct return type, which
Litestar validates and serializes itself (datetimes as RFC 3339 with Z).
The page, by-username and edit answers come from apps/answers.py.
"""

from datetime import datetime

import msgspec
from litestar import Litestar, Request, Response, get, patch
from litestar.exceptions import NotFoundException

from apps import answers
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


def respond(answer: answers.Answer) -> Response:
    status, body = answer
    return Response(body, status_code=status)


def create_app() -> Litestar:
    store = open_store()

    @get("/users/{user_id:int}")
    async def get_user(user_id: int) -> User:
        user = await store.get_user(user_id)
        if user is None:
            raise NotFoundException(detail=NOT_FOUND["detail"])
        return User(**user)

    @get("/users")
    async def page(request: Request) -> Response:
        return respond(await answers.page(store, request.scope["query_string"].decode("latin-1")))

    @get("/users/by-username/{username:str}")
    async def by_username(username: str) -> Response:
        return respond(await answers.by_username(store, username))

    @get("/users/{user_id:int}/posts")
    async def user_posts(user_id: int) -> Response:
        return respond(await answers.user_posts(store, user_id))

    @get("/posts")
    async def feed(request: Request) -> Response:
        return respond(await answers.feed(store, request.scope["query_string"].decode("latin-1")))

    @get("/queries")
    async def queries(request: Request) -> Response:
        return respond(await answers.queries(store, request.scope["query_string"].decode("latin-1")))

    @patch("/users/{user_id:int}")
    async def edit(user_id: int, request: Request) -> Response:
        return respond(await answers.edit(store, user_id, request.headers.get("content-type"), await request.body()))

    return Litestar(route_handlers=[get_user, page, by_username, edit, user_posts, feed, queries],
                    on_startup=[store.open], on_shutdown=[store.close], logging_config=None, debug=False)


def serve(host: str, port: int, workers: int) -> None:
    uvicorn_serve("apps.frameworks.litestar:create_app", host, port, workers)
