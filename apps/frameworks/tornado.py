"""Tornado on its own HTTP server and asyncio loop; several workers share one listening socket.

Idiomatic: a `RequestHandler` whose `get` parses the id (400 when it is not an integer)
and `self.write(dict)`, which Tornado serializes as JSON.
"""

import asyncio
import signal

import tornado.httpserver
import tornado.netutil
import tornado.web

from apps.contract import NOT_FOUND, as_json, open_store
from apps.servers import forked


class UserHandler(tornado.web.RequestHandler):
    def initialize(self, store):
        self.store = store

    async def get(self, raw_id: str):
        try:
            user_id = int(raw_id)
        except ValueError:
            self.set_status(400)
            self.write({"detail": "id must be an integer"})
            return
        user = await self.store.get_user(user_id)
        if user is None:
            self.set_status(404)
            self.write(NOT_FOUND)
            return
        self.write(as_json(user))


async def run(sockets) -> None:
    store = open_store()
    await store.open()
    app = tornado.web.Application([(r"/users/([^/]+)", UserHandler, {"store": store})],
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
