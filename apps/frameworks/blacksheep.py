"""BlackSheep on uvicorn (uvloop, httptools).

Idiomatic: a typed route parameter `{int:user_id}` bound to the handler's argument (no
match, so 404, for a malformed or negative id), `blacksheep.json`, and a JSON handler for
404, so that the 404 of a negative id is JSON like every other.
The page, by-username and edit answers come from apps/answers.py.
"""

from blacksheep import Application, Request, json

from apps import answers
from apps.contract import NOT_FOUND, as_json, open_store
from apps.servers import uvicorn_serve


def respond(answer: answers.Answer):
    status, body = answer
    return json(body, status=status)


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

    @app.router.get("/users")
    async def page(request: Request):
        return respond(await answers.page(store, request.url.query.decode("latin-1") if request.url.query else ""))

    @app.router.get("/users/by-username/{username}")
    async def by_username(username: str):
        return respond(await answers.by_username(store, username))

    @app.router.get("/users/{int:user_id}/posts")
    async def user_posts(user_id: int):
        return respond(await answers.user_posts(store, user_id))

    @app.router.get("/posts")
    async def feed(request: Request):
        return respond(await answers.feed(store, request.url.query.decode("latin-1") if request.url.query else ""))

    @app.router.get("/queries")
    async def queries(request: Request):
        return respond(await answers.queries(store, request.url.query.decode("latin-1") if request.url.query else ""))

    @app.router.patch("/users/{int:user_id}")
    async def edit(request: Request, user_id: int):
        content_type = request.get_first_header(b"content-type")
        return respond(await answers.edit(store, user_id, content_type.decode("latin-1") if content_type else None,
                                          await request.read() or b""))

    return app


def serve(host: str, port: int, workers: int) -> None:
    uvicorn_serve("apps.frameworks.blacksheep:create_app", host, port, workers)
