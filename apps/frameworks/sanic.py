"""Sanic on its own server (uvloop, multi-process worker manager).

Idiomatic: a typed `<user_id:int>` route (404 on a malformed id) and `sanic.json`.
The page, by-username and edit answers come from apps/answers.py.
"""

from sanic import Sanic
from sanic import json as json_response

from apps import answers
from apps.contract import NOT_FOUND, as_json, open_store
from apps.servers import sanic_serve


def respond(answer: answers.Answer):
    status, body = answer
    return json_response(body, status=status)


def create_app() -> Sanic:
    app = Sanic("dbbench")
    app.config.ACCESS_LOG = False
    store = open_store()

    @app.before_server_start
    async def open_pool(_app):
        await store.open()

    @app.after_server_stop
    async def close_pool(_app):
        await store.close()

    @app.get("/users")
    async def page(request):
        return respond(await answers.page(store, request.query_string))

    @app.get("/users/by-username/<username:str>")
    async def by_username(_request, username: str):
        return respond(await answers.by_username(store, username))

    @app.patch("/users/<user_id:int>")
    async def edit(request, user_id: int):
        return respond(await answers.edit(store, user_id, request.headers.get("content-type"), request.body))

    @app.get("/users/<user_id:int>/posts")
    async def user_posts(_request, user_id: int):
        return respond(await answers.user_posts(store, user_id))

    @app.get("/posts")
    async def feed(request):
        return respond(await answers.feed(store, request.query_string))

    @app.get("/queries")
    async def queries(request):
        return respond(await answers.queries(store, request.query_string))

    @app.get("/users/<user_id:int>")
    async def get_user(_request, user_id: int):
        user = await store.get_user(user_id)
        if user is None:
            return json_response(NOT_FOUND, status=404)
        return json_response(as_json(user))

    return app


def serve(host: str, port: int, workers: int) -> None:
    sanic_serve(host, port, workers, factory=create_app)
