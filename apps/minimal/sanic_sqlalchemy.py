"""Sanic's SQLAlchemy how-to page: an async engine and sessionmaker, a session opened by request
middleware and closed by response middleware, a select in `session.begin()`, `sanic.json` of the
model's dict. The timestamp is written in the contract's form (RFC 3339, UTC, whole seconds)."""

import os
from contextvars import ContextVar
from datetime import datetime

from sanic import Sanic, json
from sqlalchemy import DateTime, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

app = Sanic("UserService")
app.config.ACCESS_LOG = False
bind = create_async_engine(os.environ["DATABASE_URL"], pool_size=int(os.environ["DBBENCH_POOL_SIZE"]),
                           max_overflow=0)
_sessionmaker = async_sessionmaker(bind, class_=AsyncSession, expire_on_commit=False)
_base_model_session_ctx = ContextVar("session")


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str]
    email: Mapped[str]
    full_name: Mapped[str]
    bio: Mapped[str]
    is_active: Mapped[bool]
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    def to_dict(self):
        return {"id": self.id, "username": self.username, "email": self.email, "full_name": self.full_name,
                "bio": self.bio, "is_active": self.is_active,
                "created_at": self.created_at.strftime("%Y-%m-%dT%H:%M:%SZ")}


@app.middleware("request")
async def inject_session(request):
    request.ctx.session = _sessionmaker()
    request.ctx.session_ctx_token = _base_model_session_ctx.set(request.ctx.session)


@app.middleware("response")
async def close_session(request, response):
    if hasattr(request.ctx, "session_ctx_token"):
        _base_model_session_ctx.reset(request.ctx.session_ctx_token)
        await request.ctx.session.close()


@app.get("/users/<user_id:int>")
async def read_user(request, user_id: int):
    session = request.ctx.session
    async with session.begin():
        user = (await session.execute(select(User).where(User.id == user_id))).scalar()
    if user is None:
        return json({"detail": "user not found"}, status=404)
    return json(user.to_dict())
