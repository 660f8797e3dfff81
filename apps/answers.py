"""The answers of the page, by-username and edit endpoints, shared by every Python framework.

The frameworks' own validators disagree on exactly the inputs the contract pins down
(a repeated query parameter, a blank value, an extra JSON field, `+5`), so the input is
checked here, once, and a framework only routes the request, hands over the raw query
string or body, and writes the (status, JSON object) it gets back.
(schema/http-contract.md, "Named deviations from the idiom")
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qsl

from apps.contract import INT4_MAX, NOT_FOUND, BaseStore, SyncBaseStore, as_json

PAGE_LIMIT_DEFAULT = 20
PAGE_LIMIT_MAX = 100
BIO_MAX = 1000
MAX_BODY_BYTES = 16 * 1024
DIGITS = re.compile(r"[0-9]{1,10}")

Answer = tuple[int, dict[str, Any]]


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
    try:
        pairs = parse_qsl(raw_query, keep_blank_values=True, max_num_fields=20)
    except ValueError:
        raise Rejected(400, "too many query parameters") from None
    values: dict[str, str] = {}
    for name, value in pairs:
        if name in values:
            raise Rejected(400, f"{name} is given more than once")
        values[name] = value
    after = _number(values, "after", 0)
    limit = _number(values, "limit", PAGE_LIMIT_DEFAULT)
    if after > INT4_MAX:
        raise Rejected(400, f"after must be at most {INT4_MAX}")
    if not 1 <= limit <= PAGE_LIMIT_MAX:
        raise Rejected(400, f"limit must be from 1 to {PAGE_LIMIT_MAX}")
    return after, limit


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
