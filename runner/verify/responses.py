"""Reading a cell's answers as the contract has them: JSON bodies, content types and lengths,
refusals of bad input, values compared with what PostgreSQL holds."""

from __future__ import annotations

from datetime import UTC

import httpx


def expected_json(row: dict) -> dict:
    """The contract's JSON for a row read straight from PostgreSQL."""
    return {
        **row,
        "created_at": row["created_at"].astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def shorten(raw_id: str) -> str:
    """An id as shown in a failure: the 4,096-digit one is not printed whole."""
    return raw_id if len(raw_id) < 20 else raw_id[:12] + f"...({len(raw_id)} chars)"


def same_value(got, want) -> bool:
    """Equal and of the same JSON type: true is not 1, "1" is not 1."""
    return type(got) is type(want) and got == want


def json_or_none(response: httpx.Response) -> dict:
    """The body as a JSON object, or {} when it is not one."""
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def refused(response: httpx.Response) -> bool:
    """A 4xx. For `/users/`, the empty id, a framework's trailing-slash rule may also apply:
    a redirect to `/users`, or `/users` itself (the page) where the slash is ignored."""
    if 400 <= response.status_code < 500:
        return True
    if response.url.path != "/users/":
        return False
    if 300 <= response.status_code < 400:
        return response.headers.get("location", "").split("?")[0].endswith("/users")
    return response.status_code == 200 and "users" in json_or_none(response)


def content_type_ok(response: httpx.Response) -> bool:
    media = response.headers.get("content-type", "").split(";")[0].strip().lower()
    return media == "application/json"


def body_length_ok(response: httpx.Response) -> bool:
    headers = response.headers
    if "chunked" in headers.get("transfer-encoding", "").lower():
        return True
    length = headers.get("content-length")
    return length is not None and length.isdigit() and int(length) == len(response.content)
