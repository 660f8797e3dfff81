"""FastAPI on uvicorn with uvloop and httptools: the framework's production setup.

Idiomatic: an `int` path parameter (422 on a malformed id) and a pydantic response model.
"""

from contextlib import asynccontextmanager
from datetime import datetime

from fastapi import FastAPI, HTTPException
from pydantic import BaseModel

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


def create_app() -> FastAPI:
    store = open_store()

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        await store.open()
        yield
        await store.close()

    app = FastAPI(lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/users/{user_id}", response_model=User)
    async def get_user(user_id: int):
        user = await store.get_user(user_id)
        if user is None:
            raise HTTPException(status_code=404, detail=NOT_FOUND["detail"])
        return user

    return app


def serve(host: str, port: int, workers: int) -> None:
    uvicorn_serve("apps.frameworks.fastapi:create_app", host, port, workers)
