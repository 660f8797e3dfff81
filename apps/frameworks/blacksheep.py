"""BlackSheep on uvicorn (uvloop, httptools).

Idiomatic: a typed route parameter `{int:user_id}` bound to the handler's argument (no
match, so 404, for a malformed or negative id), `blacksheep.json`, and a JSON handler for
404, so that the 404 of a negative id is JSON like every other.
"""

from blacksheep import Application, json

from apps.contract import NOT_FOUND, as_json, open_store
from apps.servers import uvicorn_serve


def create_app() -> Application:
    store = open_store()
    app = Application(show_error_details=False)

    async def open_pool(_app):
        await store.open()

    async def close_pool(_app):
        await store.close()

    async def not_found(_app, _request, _exc):
        return json(NOT_FOUND, status=404)

    app.on_start += open_pool
    app.on_stop += close_pool
    app.exceptions_handlers[404] = not_found

    @app.router.get("/users/{int:user_id}")
    async def get_user(user_id: int):
        user = await store.get_user(user_id)
        if user is None:
            return json(NOT_FOUND, status=404)
        return json(as_json(user))

    return app


def serve(host: str, port: int, workers: int) -> None:
    uvicorn_serve("apps.frameworks.blacksheep:create_app", host, port, workers)
