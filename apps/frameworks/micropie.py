"""MicroPie on uvicorn (uvloop, httptools): an ultra-micro ASGI framework.

Idiomatic: routes are the App subclass's methods, named by the path's first segment, with
the remaining segments as positional arguments; a tuple return is (status, body) and a dict
body is sent as JSON. MicroPie has no converters, so an id is taken as ASCII digits and
anything else is answered with the JSON 404, as a route that does not match would be.
MicroPie reads a JSON body itself (a body that is not JSON gets its own 400); the edit
rules in apps/answers.py then see the document it parsed.
The page, by-username and edit answers come from apps/answers.py.
"""

import json
import re

from micropie import App

from apps import answers
from apps.contract import NOT_FOUND, as_json, open_store
from apps.servers import uvicorn_serve

ID = re.compile(r"[0-9]+")
METHOD_NOT_ALLOWED = {"detail": "Method Not Allowed"}


def user_id_of(segment: str) -> int | None:
    return int(segment) if ID.fullmatch(segment) else None


class Service(App):
    def __init__(self):
        super().__init__()
        self.store = open_store()
        self.startup_handlers.append(self.store.open)
        self.shutdown_handlers.append(self.store.close)

    def query_string(self) -> str:
        return self.request.scope.get("query_string", b"").decode("latin-1")

    async def users(self, *segments):
        method = self.request.method
        if not segments:
            if method != "GET":
                return 405, METHOD_NOT_ALLOWED
            return await answers.page(self.store, self.query_string())
        if segments[0] == "by-username" and len(segments) == 2 and method == "GET":
            return await answers.by_username(self.store, segments[1])
        user_id = user_id_of(segments[0])
        if user_id is None or len(segments) > 2 or (len(segments) == 2 and segments[1] != "posts"):
            return 404, NOT_FOUND
        if len(segments) == 2 and method == "GET":
            return await answers.user_posts(self.store, user_id)
        if len(segments) == 1 and method == "PATCH":
            body = json.dumps(self.request.json()).encode() if self.request.body_parsed else b""
            return await answers.edit(self.store, user_id, self.request.headers.get("content-type"), body)
        if len(segments) == 1 and method == "GET":
            user = await self.store.get_user(user_id)
            return (200, as_json(user)) if user is not None else (404, NOT_FOUND)
        return 405, METHOD_NOT_ALLOWED

    async def posts(self):
        return await answers.feed(self.store, self.query_string())

    async def queries(self):
        return await answers.queries(self.store, self.query_string())


def create_app() -> Service:
    return Service()


def serve(host: str, port: int, workers: int) -> None:
    uvicorn_serve("apps.frameworks.micropie:create_app", host, port, workers)
