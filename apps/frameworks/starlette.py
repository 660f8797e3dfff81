"""Starlette on uvicorn (uvloop, httptools).

Idiomatic: an `{user_id:int}` path convertor (no match, so 404, for a malformed or
negative id), `JSONResponse`, and a JSON handler for HTTP errors, so that the 404 of a
negative id (which the convertor does not match) is JSON like every other.
"""

from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.routing import Route

from apps.contract import NOT_FOUND, as_json, open_store
from apps.servers import uvicorn_serve


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

    async def http_error(_request, exc: HTTPException):
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)

    return Starlette(routes=[Route("/users/{user_id:int}", get_user)], lifespan=lifespan,
                     exception_handlers={HTTPException: http_error})


def serve(host: str, port: int, workers: int) -> None:
    uvicorn_serve("apps.frameworks.starlette:create_app", host, port, workers)
