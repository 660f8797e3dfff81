"""aiohttp on its own server (uvloop), one process per worker sharing the port.

Idiomatic: `web.Application`, a route handler that parses the id (400 when it is not an
integer), `web.json_response`, and the pool opened in `on_startup`. The page, by-username and edit
answers come from apps/answers.py.
"""

import uvloop
from aiohttp import web

from apps import answers
from apps.contract import NOT_FOUND, as_json, open_store
from apps.servers import forked


def path_id(request: web.Request) -> int | None:
    """The id of the path, or None when it is not an integer (the handler answers 400)."""
    try:
        return int(request.match_info["user_id"])
    except ValueError:
        return None


def malformed_id() -> web.Response:
    return web.json_response({"detail": "id must be an integer"}, status=400)


def respond(answer: answers.Answer) -> web.Response:
    status, body = answer
    return web.json_response(body, status=status)


def create_app() -> web.Application:
    store = open_store()

    async def open_pool(_app):
        await store.open()

    async def close_pool(_app):
        await store.close()

    async def get_user(request: web.Request) -> web.Response:
        user_id = path_id(request)
        if user_id is None:
            return malformed_id()
        user = await store.get_user(user_id)
        if user is None:
            return web.json_response(NOT_FOUND, status=404)
        return web.json_response(as_json(user))

    async def page(request: web.Request) -> web.Response:
        return respond(await answers.page(store, request.query_string))

    async def by_username(request: web.Request) -> web.Response:
        return respond(await answers.by_username(store, request.match_info["username"]))

    async def edit(request: web.Request) -> web.Response:
        user_id = path_id(request)
        if user_id is None:
            return malformed_id()
        return respond(await answers.edit(store, user_id, request.headers.get("Content-Type"), await request.read()))

    async def user_posts(request: web.Request) -> web.Response:
        user_id = path_id(request)
        if user_id is None:
            return malformed_id()
        return respond(await answers.user_posts(store, user_id))

    async def feed(request: web.Request) -> web.Response:
        return respond(await answers.feed(store, request.query_string))

    async def queries(request: web.Request) -> web.Response:
        return respond(await answers.queries(store, request.query_string))

    app = web.Application()
    app.on_startup.append(open_pool)
    app.on_cleanup.append(close_pool)
    app.router.add_get("/users", page)
    app.router.add_get("/users/by-username/{username}", by_username)
    app.router.add_get("/users/{user_id}", get_user)
    app.router.add_patch("/users/{user_id}", edit)
    app.router.add_get("/users/{user_id}/posts", user_posts)
    app.router.add_get("/posts", feed)
    app.router.add_get("/queries", queries)
    return app


def serve(host: str, port: int, workers: int) -> None:
    def serve_one():
        web.run_app(create_app(), host=host, port=port, access_log=None, print=None,
                    reuse_port=workers > 1, loop=uvloop.new_event_loop())

    forked(workers, serve_one)
