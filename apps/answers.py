"""The answers of every endpoint but by-id, shared by every Python framework.

The frameworks' own validators disagree on exactly the inputs the contract pins down
(a repeated query parameter, a blank value, an extra JSON field, `+5`), so the input is
checked here, once, and a framework only routes the request, hands over the raw query
string or body, and writes the (status, JSON object) it gets back.
(schema/http-contract.md, "Named deviations from the idiom")
"""

from __future__ import annotations

import json
import random
import re
from typing import Any
from urllib.parse import parse_qsl

from apps.contract import INT4_MAX, NOT_FOUND, BaseStore, SyncBaseStore, UserPosts, as_json

PAGE_LIMIT_DEFAULT = 20
PAGE_LIMIT_MAX = 100
BIO_MAX = 1000
MAX_BODY_BYTES = 16 * 1024
QUERIES_MAX = 500  # TechEmpower's multiple-queries test: 1..500 lookups per request
DIGITS = re.compile(r"[0-9]{1,10}")
SIGNED_INTEGER = re.compile(r"-?[0-9]+")

Answer = tuple[int, dict[str, Any] | list[dict[str, Any]]]


class Rejected(Exception):
    """A request the contract answers with a 4xx; nothing was read or written."""

    def __init__(self, status: int, detail: str):
        super().__init__(detail)
        self.status = status
        self.detail = detail

    def answer(self) -> Answer:
        return self.status, {"detail": self.detail}


def parse_page(raw_query: str) -> tuple[int, int]:
    """(after, limit) from the raw query string: each at most once, plain decimal digits,
    0 <= after <= 2**31-1 and 1 <= limit <= 100; parameters it does not know are ignored."""
    return _keyset(raw_query, "after", 0)


def parse_feed(raw_query: str) -> tuple[int, int]:
    """(before, limit), by the page's rules; without `before`, the feed starts at the newest post."""
    return _keyset(raw_query, "before", INT4_MAX)


def _keyset(raw_query: str, key: str, default: int) -> tuple[int, int]:
    try:
        pairs = parse_qsl(raw_query, keep_blank_values=True, max_num_fields=20)
    except ValueError:
        raise Rejected(400, "too many query parameters") from None
    values: dict[str, str] = {}
    for name, value in pairs:
        if name in values:
            raise Rejected(400, f"{name} is given more than once")
        values[name] = value
    position = _number(values, key, default)
    limit = _number(values, "limit", PAGE_LIMIT_DEFAULT)
    if position > INT4_MAX:
        raise Rejected(400, f"{key} must be at most {INT4_MAX}")
    if not 1 <= limit <= PAGE_LIMIT_MAX:
        raise Rejected(400, f"limit must be from 1 to {PAGE_LIMIT_MAX}")
    return position, limit


def parse_queries(raw_query: str) -> int:
    """TechEmpower's rule for n: its first value, clamped to 1..500; missing or not an integer
    (an optional minus sign and ASCII digits) counts as 1. Never an error."""
    try:
        pairs = parse_qsl(raw_query, keep_blank_values=True, max_num_fields=20)
    except ValueError:
        return 1
    given = next((value for name, value in pairs if name == "n"), "")
    if not SIGNED_INTEGER.fullmatch(given) or given.startswith("-"):
        return 1
    digits = given.lstrip("0") or "0"  # never int() on thousands of digits (Python refuses them)
    return QUERIES_MAX if len(digits) > 3 else max(1, min(QUERIES_MAX, int(digits)))


def _number(values: dict[str, str], name: str, default: int) -> int:
    if name not in values:
        return default
    if not DIGITS.fullmatch(values[name]):
        raise Rejected(400, f"{name} must be a whole number written in digits")
    return int(values[name])


def parse_bio(content_type: str | None, body: bytes) -> str:
    """The new bio from a PATCH body: a JSON object with exactly one key, bio, a string of
    1 to 1,000 characters that PostgreSQL's text can hold."""
    media = (content_type or "").split(";")[0].strip().lower()
    if media != "application/json":
        raise Rejected(415, "the body must be application/json")
    if len(body) > MAX_BODY_BYTES:
        raise Rejected(413, f"the body is larger than {MAX_BODY_BYTES} bytes")
    try:
        document = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise Rejected(400, "the body is not JSON") from None
    if not isinstance(document, dict) or set(document) != {"bio"}:
        raise Rejected(422, 'the body must be {"bio": "..."} and nothing else')
    bio = document["bio"]
    if not isinstance(bio, str) or not 1 <= len(bio) <= BIO_MAX:
        raise Rejected(422, f"bio must be a string of 1 to {BIO_MAX} characters")
    if "\x00" in bio or not _encodable(bio):
        raise Rejected(422, "bio must be text without NUL characters or lone surrogates")
    return bio


def _encodable(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def page_body(users: list[dict[str, Any]], limit: int) -> dict[str, Any]:
    """The users, and the id to continue after: null once a page comes back short."""
    next_after = users[-1]["id"] if len(users) == limit else None
    return {"users": [as_json(user) for user in users], "next_after": next_after}


def user_or_404(user: dict[str, Any] | None) -> Answer:
    return (200, as_json(user)) if user is not None else (404, NOT_FOUND)


def user_posts_body(found: UserPosts | None) -> Answer:
    if found is None:
        return 404, NOT_FOUND
    return 200, {"user": as_json(found.user), "post_count": found.post_count,
                 "posts": [as_json(post) for post in found.posts]}


def feed_body(posts: list[dict[str, Any]], limit: int) -> dict[str, Any]:
    """The posts, and the id to continue before: null once a page comes back short."""
    return {"posts": [as_json(post) for post in posts], "next_before": posts[-1]["id"] if len(posts) == limit else None}


def random_ids(store: BaseStore | SyncBaseStore, raw_query: str) -> list[int]:
    return [random.randint(1, store.settings.users) for _ in range(parse_queries(raw_query))]


def found_users(users: list[dict[str, Any] | None]) -> Answer:
    return 200, [as_json(user) for user in users if user is not None]


async def user_posts(store: BaseStore, user_id: int) -> Answer:
    return user_posts_body(await store.get_user_posts(user_id))


async def feed(store: BaseStore, raw_query: str) -> Answer:
    try:
        before, limit = parse_feed(raw_query)
    except Rejected as rejected:
        return rejected.answer()
    return 200, feed_body(await store.fetch_feed(before, limit), limit)


async def queries(store: BaseStore, raw_query: str) -> Answer:
    return found_users(await store.fetch_many(random_ids(store, raw_query)))


async def by_username(store: BaseStore, username: str) -> Answer:
    return user_or_404(await store.get_by_username(username))


async def page(store: BaseStore, raw_query: str) -> Answer:
    try:
        after, limit = parse_page(raw_query)
    except Rejected as rejected:
        return rejected.answer()
    return 200, page_body(await store.fetch_page(after, limit), limit)


async def edit(store: BaseStore, user_id: int, content_type: str | None, body: bytes) -> Answer:
    try:
        bio = parse_bio(content_type, body)
    except Rejected as rejected:
        return rejected.answer()
    return user_or_404(await store.set_bio(user_id, bio))


def by_username_sync(store: SyncBaseStore, username: str) -> Answer:
    return user_or_404(store.get_by_username(username))


def page_sync(store: SyncBaseStore, raw_query: str) -> Answer:
    try:
        after, limit = parse_page(raw_query)
    except Rejected as rejected:
        return rejected.answer()
    return 200, page_body(store.fetch_page(after, limit), limit)


def edit_sync(store: SyncBaseStore, user_id: int, content_type: str | None, body: bytes) -> Answer:
    try:
        bio = parse_bio(content_type, body)
    except Rejected as rejected:
        return rejected.answer()
    return user_or_404(store.set_bio(user_id, bio))


def user_posts_sync(store: SyncBaseStore, user_id: int) -> Answer:
    return user_posts_body(store.get_user_posts(user_id))


def feed_sync(store: SyncBaseStore, raw_query: str) -> Answer:
    try:
        before, limit = parse_feed(raw_query)
    except Rejected as rejected:
        return rejected.answer()
    return 200, feed_body(store.fetch_feed(before, limit), limit)


def queries_sync(store: SyncBaseStore, raw_query: str) -> Answer:
    return found_users(store.fetch_many(random_ids(store, raw_query)))
