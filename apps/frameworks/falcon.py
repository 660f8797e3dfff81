"""Falcon (ASGI) on uvicorn (uvloop, httptools).

Idiomatic: a resource class, an `{user_id:int}` field converter (no match, so 404, for a
malformed id), `resp.media`, and the pool opened by a lifespan middleware.
The page, by-username and edit answers come from apps/answers.py.
"""

import falcon
import falcon.asgi

from apps import answers
from apps.contract import NOT_FOUND, as_json, open_store
from apps.servers import uvicorn_serve


class StoreLifespan:
    def __init__(self, store):
        self.store = store

    async def process_startup(self, _scope, _event):
        await self.store.open()

    async def process_shutdown(self, _scope, _event):
        await self.store.close()


class UserResource:
    def __init__(self, store):
        self.store = store

    async def on_get(self, _req, resp, user_id: int):
        user = await self.store.get_user(user_id)
        if user is None:
            resp.status = falcon.HTTP_404
            resp.media = NOT_FOUND
            return
        resp.media = as_json(user)

    async def on_patch(self, req, resp, user_id: int):
        respond(resp, await answers.edit(self.store, user_id, req.content_type, await req.stream.read()))


class PageResource:
    def __init__(self, store):
        self.store = store

    async def on_get(self, req, resp):
        respond(resp, await answers.page(self.store, req.query_string))


class UsernameResource:
    def __init__(self, store):
        self.store = store

    async def on_get(self, _req, resp, username: str):
        respond(resp, await answers.by_username(self.store, username))


class UserPostsResource:
    def __init__(self, store):
        self.store = store

    async def on_get(self, _req, resp, user_id: int):
        respond(resp, await answers.user_posts(self.store, user_id))


class FeedResource:
    def __init__(self, store):
        self.store = store

    async def on_get(self, req, resp):
        respond(resp, await answers.feed(self.store, req.query_string))


class QueriesResource:
    def __init__(self, store):
        self.store = store

    async def on_get(self, req, resp):
        respond(resp, await answers.queries(self.store, req.query_string))


def respond(resp, answer: answers.Answer) -> None:
    status, body = answer
    resp.status = status
    resp.media = body


def create_app() -> falcon.asgi.App:
    store = open_store()
    app = falcon.asgi.App(middleware=[StoreLifespan(store)])
    app.add_route("/users", PageResource(store))
    app.add_route("/users/by-username/{username}", UsernameResource(store))
    app.add_route("/users/{user_id:int}", UserResource(store))
    app.add_route("/users/{user_id:int}/posts", UserPostsResource(store))
    app.add_route("/posts", FeedResource(store))
    app.add_route("/queries", QueriesResource(store))
    return app


def serve(host: str, port: int, workers: int) -> None:
    uvicorn_serve("apps.frameworks.falcon:create_app", host, port, workers)
