"""Starlette on uvicorn (uvloop, httptools).

Idiomatic: an `{user_id:int}` path convertor (no match, so 404, for a malformed or
negative id), `JSONResponse`, and a JSON handler for HTTP errors, so that the 404 of a
negative id (which the convertor does not match) is JSON like every other.
The page, by-username and edit answers come from apps/answers.py.
"""

from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.routing import Route

from apps import answers
from apps.contract import NOT_FOUND, as_json, open_store
from apps.servers import uvicorn_serve


def respond(answer: answers.Answer) -> JSONResponse:
    status, body = answer
    return JSONResponse(body, status_code=status)


def create_app() -> Starlette:
    store = open_store()

    @asynccontextmanager
    async def lifespan(_app):
        await store.open()
        yield
        await store.close()

    async def get_user(request):
        user = await store.get_user(request.path_params["user_id"])
        if user is None:
            return JSONResponse(NOT_FOUND, status_code=404)
        return JSONResponse(as_json(user))

    async def page(request):
        return respond(await answers.page(store, request.url.query))

    async def by_username(request):
        return respond(await answers.by_username(store, request.path_params["username"]))

    async def edit(request):
        return respond(await answers.edit(store, request.path_params["user_id"], request.headers.get("content-type"),
                                          await request.body()))

    async def user_posts(request):
        return respond(await answers.user_posts(store, request.path_params["user_id"]))

    async def feed(request):
        return respond(await answers.feed(store, request.url.query))

    async def queries(request):
        return respond(await answers.queries(store, request.url.query))

    async def http_error(_request, exc: HTTPException):
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)

    routes = [
        Route("/users", page),
        Route("/users/by-username/{username}", by_username),
        Route("/users/{user_id:int}", get_user, methods=["GET"]),
        Route("/users/{user_id:int}", edit, methods=["PATCH"]),
        Route("/users/{user_id:int}/posts", user_posts),
        Route("/posts", feed),
        Route("/queries", queries),
    ]
    return Starlette(routes=routes, lifespan=lifespan,
                     exception_handlers={HTTPException: http_error})


def serve(host: str, port: int, workers: int) -> None:
    uvicorn_serve("apps.frameworks.starlette:create_app", host, port, workers)
