"""What every Python app shares: its settings, the id range and the JSON shape.

The contract itself is written down in schema/http-contract.md.
"""

from __future__ import annotations

import importlib
import json
import os
from dataclasses import dataclass, field
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
POST_FIELDS = ("id", "title", "created_at", "likes")
AUTHOR_FIELDS = ("id", "username", "full_name")
LATEST_POSTS = 10  # a user's page shows this many of their posts, newest first
# One JOIN each, the raw-SQL author's way. A user's posts: the user, their post count and
# their latest posts in one statement (a user without posts gives one row, its post NULL).
USER_POSTS_SQL = (
    "SELECT u.id, u.username, u.email, u.full_name, u.bio, u.is_active, u.created_at, c.post_count, "
    "p.id AS post_id, p.title, p.created_at AS post_created_at, p.likes "
    "FROM users AS u "
    "CROSS JOIN LATERAL (SELECT count(*) AS post_count FROM posts WHERE user_id = u.id) AS c "
    "LEFT JOIN LATERAL (SELECT id, title, created_at, likes FROM posts WHERE user_id = u.id "
    "ORDER BY created_at DESC, id DESC LIMIT 10) AS p ON true "
    "WHERE u.id = $1 ORDER BY p.created_at DESC, p.id DESC"
)
FEED_SQL = (
    "SELECT p.id, p.title, p.created_at, p.likes, u.id AS author_id, u.username, u.full_name "
    "FROM posts AS p JOIN users AS u ON u.id = p.user_id WHERE p.id < $1 ORDER BY p.id DESC LIMIT $2"
)


@dataclass(frozen=True)
class Settings:
    """A cell's start-up parameters, passed to server workers through the environment.

    The database URL travels in DATABASE_URL, never on a command line.
    """

    variant: str
    pool_size: int
    dsn: str
    users: int = 10_000  # /queries draws its ids from 1..users (the seed's ids are contiguous)
    # The cell's driver settings from apps/cells.toml (psycopg's prepare_threshold), recorded
    # with its results: set on purpose, never a library default by accident.
    options: dict = field(default_factory=dict)

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            variant=os.environ["DBBENCH_VARIANT"],
            pool_size=int(os.environ["DBBENCH_POOL_SIZE"]),
            dsn=os.environ["DATABASE_URL"],
            users=int(os.environ.get("DBBENCH_USERS", "10000")),
            options=json.loads(os.environ.get("DBBENCH_CELL_SETTINGS", "{}")),
        )

    def export(self) -> None:
        os.environ["DBBENCH_VARIANT"] = self.variant
        os.environ["DBBENCH_POOL_SIZE"] = str(self.pool_size)
        os.environ["DATABASE_URL"] = self.dsn
        os.environ["DBBENCH_USERS"] = str(self.users)
        os.environ["DBBENCH_CELL_SETTINGS"] = json.dumps(self.options)


def asyncpg_options(options: dict) -> dict:
    """asyncpg's own settings a cell declares: statement_cache_size=0 behind a transaction
    pooler (apps/cells.toml, `pooler`), where a statement prepared by name on one server
    connection is not there on the next; nothing otherwise, so asyncpg's defaults hold."""
    return {key: options[key] for key in ("statement_cache_size",) if key in options}


def prepare_threshold(settings: Settings) -> int | None:
    """psycopg's prepare_threshold as declared; "never" is its None, behind a transaction pooler."""
    value = settings.options["prepare_threshold"]
    return None if value == "never" else value


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

    async def get_user_posts(self, user_id: int) -> UserPosts | None:
        return await self.fetch_user_posts(user_id) if can_be_a_row(user_id) else None

    async def fetch_user_posts(self, user_id: int) -> UserPosts | None:
        """The user, their post count and their LATEST_POSTS newest posts (POST_FIELDS), or None."""
        raise NotImplementedError

    async def fetch_feed(self, before: int, limit: int) -> list[dict[str, Any]]:
        """Up to `limit` posts with id < before, newest id first, each with POST_FIELDS and its
        author (AUTHOR_FIELDS) under "author"."""
        raise NotImplementedError

    async def fetch_many(self, user_ids: list[int]) -> list[dict[str, Any] | None]:
        """TechEmpower's multiple queries: one single-row lookup per id, one after the other,
        through the variant's own lookup (never batched into one statement)."""
        return [await self.fetch(user_id) for user_id in user_ids]


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

    def get_user_posts(self, user_id: int) -> UserPosts | None:
        return self.fetch_user_posts(user_id) if can_be_a_row(user_id) else None

    def fetch_user_posts(self, user_id: int) -> UserPosts | None:
        raise NotImplementedError

    def fetch_feed(self, before: int, limit: int) -> list[dict[str, Any]]:
        raise NotImplementedError

    def fetch_many(self, user_ids: list[int]) -> list[dict[str, Any] | None]:
        return [self.fetch(user_id) for user_id in user_ids]


@dataclass(frozen=True)
class UserPosts:
    """GET /users/{id}/posts before it is JSON: the user, how many posts they have, the latest."""

    user: dict[str, Any]
    post_count: int
    posts: list[dict[str, Any]]


def as_dict(user: Any) -> dict[str, Any]:
    """A user object of any ORM as the contract's fields (attributes named as the columns)."""
    return {name: getattr(user, name) for name in FIELDS}


def post_dict(post: Any) -> dict[str, Any]:
    return {name: getattr(post, name) for name in POST_FIELDS}


def feed_dict(post: Any, author: Any) -> dict[str, Any]:
    return {**post_dict(post), "author": {"id": author.id, "username": author.username, "full_name": author.full_name}}


def user_posts_from_rows(rows: list) -> UserPosts | None:
    """USER_POSTS_SQL's rows (mappings) as UserPosts: the user from the first row, a post from
    every row that has one."""
    if not rows:
        return None
    first = rows[0]
    posts = [{"id": row["post_id"], "title": row["title"], "created_at": row["post_created_at"],
              "likes": row["likes"]} for row in rows if row["post_id"] is not None]
    return UserPosts({name: first[name] for name in FIELDS}, first["post_count"], posts)


def feed_from_rows(rows: list) -> list[dict[str, Any]]:
    """FEED_SQL's rows (mappings) as posts with their authors."""
    return [{"id": row["id"], "title": row["title"], "created_at": row["created_at"], "likes": row["likes"],
             "author": {"id": row["author_id"], "username": row["username"], "full_name": row["full_name"]}}
            for row in rows]


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
    """The contract's JSON object, for frameworks that serialize plain dicts (a user, a post, or a
    post with its author: each has created_at, the author has none)."""
    return {**user, "created_at": rfc3339(user["created_at"])}
