"""FastAPI on uvicorn with uvloop and httptools: the framework's production setup.

Idiomatic: an `int` path parameter (422 on a malformed id) and a pydantic response model.
The page, by-username and edit answers come from apps/answers.py, written as JSONResponse.
"""

from contextlib import asynccontextmanager
from datetime import datetime

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from apps import answers
from apps.contract import NOT_FOUND, open_store
from apps.servers import uvicorn_serve


class User(BaseModel):
    id: int
    username: str
    email: str
    full_name: str
    bio: str
    is_active: bool
    created_at: datetime


def respond(answer: answers.Answer) -> JSONResponse:
    status, body = answer
    return JSONResponse(body, status_code=status)


def create_app() -> FastAPI:
    store = open_store()

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        await store.open()
        yield
        await store.close()

    app = FastAPI(lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)

    # By id first: Starlette tries each route in turn until one matches, and the lookup is the
    # matrix's request; a path of one segment after /users/ can match no other route here.
    @app.get("/users/{user_id}", response_model=User)
    async def get_user(user_id: int):
        user = await store.get_user(user_id)
        if user is None:
            raise HTTPException(status_code=404, detail=NOT_FOUND["detail"])
        return user

    @app.get("/users")
    async def page(request: Request):
        return respond(await answers.page(store, request.url.query))

    @app.get("/users/by-username/{username}")
    async def by_username(username: str):
        return respond(await answers.by_username(store, username))

    @app.patch("/users/{user_id}")
    async def edit(user_id: int, request: Request):
        return respond(await answers.edit(store, user_id, request.headers.get("content-type"), await request.body()))

    @app.get("/users/{user_id}/posts")
    async def user_posts(user_id: int):
        return respond(await answers.user_posts(store, user_id))

    @app.get("/posts")
    async def feed(request: Request):
        return respond(await answers.feed(store, request.url.query))

    @app.get("/queries")
    async def queries(request: Request):
        return respond(await answers.queries(store, request.url.query))

    return app


def serve(host: str, port: int, workers: int) -> None:
    uvicorn_serve("apps.frameworks.fastapi:create_app", host, port, workers)
