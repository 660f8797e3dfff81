"""aiohttp on its own server (uvloop), one process per worker sharing the port.

Idiomatic: `web.Application`, a route handler that parses the id (400 when it is not an
integer), `web.json_response`, and the pool opened in `on_startup`.
"""

import uvloop
from aiohttp import web

from apps.contract import NOT_FOUND, as_json, open_store
from apps.servers import forked


def create_app() -> web.Application:
    store = open_store()

    async def open_pool(_app):
        await store.open()

    async def close_pool(_app):
        await store.close()

    async def get_user(request: web.Request) -> web.Response:
        try:
            user_id = int(request.match_info["user_id"])
        except ValueError:
            return web.json_response({"detail": "id must be an integer"}, status=400)
        user = await store.get_user(user_id)
        if user is None:
            return web.json_response(NOT_FOUND, status=404)
        return web.json_response(as_json(user))

    app = web.Application()
    app.on_startup.append(open_pool)
    app.on_cleanup.append(close_pool)
    app.router.add_get("/users/{user_id}", get_user)
    return app


def serve(host: str, port: int, workers: int) -> None:
    def serve_one():
        web.run_app(create_app(), host=host, port=port, access_log=None, print=None,
                    reuse_port=workers > 1, loop=uvloop.new_event_loop())

    forked(workers, serve_one)
