"""Quart on uvicorn (uvloop, httptools).

Idiomatic: a `<int:user_id>` route converter (no match, so 404, for a malformed or
negative id), a JSON 404 error handler, start-up hooks for the pool, and a dict return
serialized as JSON. The page, by-username and edit answers come from apps/answers.py.
"""

from quart import Quart, request

from apps import answers
from apps.contract import NOT_FOUND, as_json, open_store
from apps.servers import uvicorn_serve


def respond(answer: answers.Answer):
    status, body = answer
    return body, status


def create_app() -> Quart:
    store = open_store()
    app = Quart("dbbench")

    @app.before_serving
    async def open_pool():
        await store.open()

    @app.after_serving
    async def close_pool():
        await store.close()

    @app.errorhandler(404)
    async def not_found(_error):
        return NOT_FOUND, 404

    @app.get("/users/<int:user_id>")
    async def get_user(user_id: int):
        user = await store.get_user(user_id)
        if user is None:
            return NOT_FOUND, 404
        return as_json(user)

    @app.get("/users")
    async def page():
        return respond(await answers.page(store, request.query_string.decode("latin-1")))

    @app.get("/users/by-username/<username>")
    async def by_username(username: str):
        return respond(await answers.by_username(store, username))

    @app.get("/users/<int:user_id>/posts")
    async def user_posts(user_id: int):
        return respond(await answers.user_posts(store, user_id))

    @app.get("/posts")
    async def feed():
        return respond(await answers.feed(store, request.query_string.decode("latin-1")))

    @app.get("/queries")
    async def queries():
        return respond(await answers.queries(store, request.query_string.decode("latin-1")))

    @app.patch("/users/<int:user_id>")
    async def edit(user_id: int):
        body = await request.get_data()
        return respond(await answers.edit(store, user_id, request.headers.get("content-type"), body))

    return app


def serve(host: str, port: int, workers: int) -> None:
    uvicorn_serve("apps.frameworks.quart:create_app", host, port, workers)
