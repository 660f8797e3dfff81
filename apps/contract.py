"""What every Python app shares: its settings, the id range and the JSON shape.

The contract itself is written down in schema/http-contract.md.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

INT4_MIN = -(2**31)
INT4_MAX = 2**31 - 1
FIELDS = ("id", "username", "email", "full_name", "bio", "is_active", "created_at")
NOT_FOUND = {"detail": "user not found"}
# The statements of the raw variants, written out; ORM variants build the equivalent ones.
LOOKUP_SQL = "SELECT id, username, email, full_name, bio, is_active, created_at FROM users WHERE id = $1"
USERNAME_SQL = "SELECT id, username, email, full_name, bio, is_active, created_at FROM users WHERE username = $1"
PAGE_SQL = ("SELECT id, username, email, full_name, bio, is_active, created_at FROM users "
            "WHERE id > $1 ORDER BY id LIMIT $2")
EDIT_SQL = ("UPDATE users SET bio = $2 WHERE id = $1 "
            "RETURNING id, username, email, full_name, bio, is_active, created_at")
USERNAME_MAX = 255  # longer names cannot be a row (the seed's are under 20 characters)


@dataclass(frozen=True)
class Settings:
    """A cell's start-up parameters, passed to server workers through the environment.

    The database URL travels in DATABASE_URL, never on a command line.
    """

    variant: str
    pool_size: int
    dsn: str

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            variant=os.environ["DBBENCH_VARIANT"],
            pool_size=int(os.environ["DBBENCH_POOL_SIZE"]),
            dsn=os.environ["DATABASE_URL"],
        )

    def export(self) -> None:
        os.environ["DBBENCH_VARIANT"] = self.variant
        os.environ["DBBENCH_POOL_SIZE"] = str(self.pool_size)
        os.environ["DATABASE_URL"] = self.dsn


def can_be_a_row(user_id: int) -> bool:
    """users.id is an int4: an id outside its range is answered 404 without a query."""
    return INT4_MIN <= user_id <= INT4_MAX


def can_be_a_username(username: str) -> bool:
    """A name PostgreSQL's text cannot hold (a NUL, a lone surrogate) or longer than any
    username is answered 404 without a query."""
    if not 1 <= len(username) <= USERNAME_MAX or "\x00" in username:
        return False
    try:
        username.encode()
    except UnicodeEncodeError:
        return False
    return True


class BaseStore:
    """One data-access strategy; subclasses open a pool and run the statements.

    get_user, get_by_username and set_bio answer None for what cannot be a row without
    asking the database; fetch, fetch_by_username, fetch_page and update_bio are the
    strategy's own statements.
    """

    def __init__(self, settings: Settings):
        self.settings = settings

    async def open(self) -> None:
        """Open the pool at full size, before the first request."""
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError

    async def get_user(self, user_id: int) -> dict[str, Any] | None:
        """The row as a dict, or None. An id outside int4 cannot be a row: no query."""
        return await self.fetch(user_id) if can_be_a_row(user_id) else None

    async def get_by_username(self, username: str) -> dict[str, Any] | None:
        return await self.fetch_by_username(username) if can_be_a_username(username) else None

    async def set_bio(self, user_id: int, bio: str) -> dict[str, Any] | None:
        """The user after the change, or None when there is no such user."""
        return await self.update_bio(user_id, bio) if can_be_a_row(user_id) else None

    async def fetch(self, user_id: int) -> dict[str, Any] | None:
        raise NotImplementedError

    async def fetch_by_username(self, username: str) -> dict[str, Any] | None:
        raise NotImplementedError

    async def fetch_page(self, after: int, limit: int) -> list[dict[str, Any]]:
        """Up to `limit` users with id > after, in id order."""
        raise NotImplementedError

    async def update_bio(self, user_id: int, bio: str) -> dict[str, Any] | None:
        raise NotImplementedError


class SyncBaseStore:
    """The same strategy interface for synchronous frameworks (threads, blocking I/O)."""

    def __init__(self, settings: Settings):
        self.settings = settings

    def open(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def get_user(self, user_id: int) -> dict[str, Any] | None:
        return self.fetch(user_id) if can_be_a_row(user_id) else None

    def get_by_username(self, username: str) -> dict[str, Any] | None:
        return self.fetch_by_username(username) if can_be_a_username(username) else None

    def set_bio(self, user_id: int, bio: str) -> dict[str, Any] | None:
        return self.update_bio(user_id, bio) if can_be_a_row(user_id) else None

    def fetch(self, user_id: int) -> dict[str, Any] | None:
        raise NotImplementedError

    def fetch_by_username(self, username: str) -> dict[str, Any] | None:
        raise NotImplementedError

    def fetch_page(self, after: int, limit: int) -> list[dict[str, Any]]:
        raise NotImplementedError

    def update_bio(self, user_id: int, bio: str) -> dict[str, Any] | None:
        raise NotImplementedError


def _store_module(variant: str, suffix: str = ""):
    return importlib.import_module(f"apps.access.{variant.replace('-', '_')}{suffix}")


def open_store(settings: Settings | None = None) -> BaseStore:
    """The Store of the configured variant (apps/access/<variant>.py)."""
    settings = settings or Settings.from_env()
    return _store_module(settings.variant).Store(settings)


def open_sync_store(settings: Settings | None = None) -> SyncBaseStore:
    """The synchronous Store of the configured variant (apps/access/<variant>_sync.py)."""
    settings = settings or Settings.from_env()
    return _store_module(settings.variant, "_sync").Store(settings)


def rfc3339(moment: datetime) -> str:
    """UTC, whole seconds, Z suffix: 2021-03-04T05:06:07Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def as_json(user: dict[str, Any]) -> dict[str, Any]:
    """The contract's JSON object, for frameworks that serialize plain dicts."""
    return {**user, "created_at": rfc3339(user["created_at"])}
