"""Tornado on its own HTTP server and asyncio loop; several workers share one listening socket.

Idiomatic: a `RequestHandler` whose `get` parses the id (400 when it is not an integer)
and `self.write(dict)`, which Tornado serializes as JSON. The page, by-username and edit
answers come from apps/answers.py.
"""

import asyncio
import json
import signal

import tornado.httpserver
import tornado.netutil
import tornado.web

from apps import answers
from apps.contract import NOT_FOUND, as_json, open_store
from apps.servers import forked


class StoreHandler(tornado.web.RequestHandler):
    def initialize(self, store):
        self.store = store

    def respond(self, answer: answers.Answer) -> None:
        """Tornado writes dicts as JSON itself but refuses lists (/queries answers one)."""
        status, body = answer
        self.set_status(status)
        if isinstance(body, list):
            self.set_header("Content-Type", "application/json; charset=UTF-8")
            self.write(json.dumps(body))
        else:
            self.write(body)

    def path_id(self, raw_id: str) -> int | None:
        """The id of the path, or None after answering 400 when it is not an integer."""
        try:
            return int(raw_id)
        except ValueError:
            self.respond((400, {"detail": "id must be an integer"}))
            return None


class UserHandler(StoreHandler):
    async def get(self, raw_id: str):
        user_id = self.path_id(raw_id)
        if user_id is None:
            return
        user = await self.store.get_user(user_id)
        if user is None:
            self.respond((404, NOT_FOUND))
            return
        self.write(as_json(user))

    async def patch(self, raw_id: str):
        user_id = self.path_id(raw_id)
        if user_id is not None:
            self.respond(await answers.edit(self.store, user_id, self.request.headers.get("Content-Type"),
                                            self.request.body))


class PageHandler(StoreHandler):
    async def get(self):
        self.respond(await answers.page(self.store, self.request.query))


class UsernameHandler(StoreHandler):
    async def get(self, username: str):
        self.respond(await answers.by_username(self.store, username))


class UserPostsHandler(StoreHandler):
    async def get(self, raw_id: str):
        user_id = self.path_id(raw_id)
        if user_id is not None:
            self.respond(await answers.user_posts(self.store, user_id))


class FeedHandler(StoreHandler):
    async def get(self):
        self.respond(await answers.feed(self.store, self.request.query))


class QueriesHandler(StoreHandler):
    async def get(self):
        self.respond(await answers.queries(self.store, self.request.query))


async def run(sockets) -> None:
    store = open_store()
    await store.open()
    routes = [
        (r"/users", PageHandler, {"store": store}),
        (r"/users/by-username/([^/]+)", UsernameHandler, {"store": store}),
        (r"/users/([^/]+)", UserHandler, {"store": store}),
        (r"/users/([^/]+)/posts", UserPostsHandler, {"store": store}),
        (r"/posts", FeedHandler, {"store": store}),
        (r"/queries", QueriesHandler, {"store": store}),
    ]
    app = tornado.web.Application(routes,
                                  log_function=lambda _handler: None)
    server = tornado.httpserver.HTTPServer(app)
    server.add_sockets(sockets)
    stopping = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(signum, stopping.set)
    await stopping.wait()
    server.stop()
    await store.close()


def serve(host: str, port: int, workers: int) -> None:
    sockets = tornado.netutil.bind_sockets(port, address=host)
    forked(workers, lambda: asyncio.run(run(sockets)))
