"""The inputs the verifier sends that a cell must refuse or answer 404 (schema/http-contract.md).

Data only: each entry is what goes on the wire, already percent-encoded where it is a path
or a query string, so that what is tested is exactly what is listed.
"""

from __future__ import annotations

import json

# Well-formed integers with no row: 404.
MISSING_IDS = ("0", "-1", "-2147483648", "2147483647", "2147483648", "-2147483649",
               "9223372036854775808", "99999999999999999999999")

# Malformed ids: a 4xx, never a 5xx, never a dropped connection. The empty id, `/users/`,
# may also be the framework's trailing-slash rule: a redirect to `/users`, or the page
# itself (runner/verify/verifier.py, refused()).
MALFORMED_IDS = (
    "abc", "1.5", "1e3", "0x1A", "%27%20OR%201=1", "1;DROP%20TABLE%20users", "", "9" * 4096,
    "-", "--1", "1-", "%00", "1%00", "NaN", "Infinity", "null", "true", "%5B1%5D", "%7B%7D",
    "%E2%80%8B1", "1,2", "%2e%2e", "0b101", "1%2F2", "1%2B1",
)

# The malformed ids with nothing to decode (plain ASCII, no percent-escape, not empty, short),
# which every server hands to the framework's router as they are: each gets the framework's own
# malformed-id status (apps/cells.toml `malformed`, schema/http-contract.md's table). The others,
# any 4xx: a server may decode one into another path (`1%2F2`) or refuse it before routing
# (gunicorn's request-line limit).
ROUTED_MALFORMED_IDS = tuple(raw for raw in MALFORMED_IDS if raw and "%" not in raw and len(raw) < 100)

# Spellings that Python's int() accepts (underscores, surrounding spaces, non-ASCII digits).
# A framework whose own integer parser takes them may answer with the user they denote;
# anything else must be a 4xx. Never a 5xx. (schema/http-contract.md, "Lenient spellings")
LENIENT_IDS = {"1_000": 1000, "%201": 1, "1%20": 1, "%0A1": 1, "%D9%A1": 1, "%EF%BC%91": 1}

# Usernames with no row: a JSON 404 (case matters; the seed's names are slug_id).
MISSING_USERNAMES = ("nobody", "ada_0", "ADA_1", "%20", "x" * 300, "%27%20OR%20%271%27=%271",
                     "ada_1%20", "%C5%81ukasz_1")

# Usernames PostgreSQL's text cannot hold, or the server may refuse or route elsewhere: never a 5xx.
ODD_USERNAMES = ("%00", "a%00b", "%FF", "%ED%A0%80", "a%2Fb", "x" * 10_000, "%25", "%2e%2e")

# Query strings for GET /users that must get a 4xx.
BAD_PAGE_QUERIES = (
    "limit=0", "limit=101", "limit=-1", "limit=abc", "limit=1.5", "limit=", "limit=%2B5", "limit=%205",
    "limit=1e1", "limit=%D9%A1", "limit=1%00", "after=abc", "after=-1", "after=1.5", "after=",
    "after=2147483648", "after=99999999999999999999", "limit=1&limit=2", "after=1&after=2",
    "limit=" + "1" * 10_000, "after=" + "a" * 10_000, "after=0x10", "limit=10&limit=10",
)

# The same rules for GET /posts, whose key is before: a 4xx each.
BAD_FEED_QUERIES = tuple(query.replace("after", "before") for query in BAD_PAGE_QUERIES)

# GET /queries?{query} and the number of users it must answer: TechEmpower's rules (n clamped
# to 1..500; missing or not an integer counts as 1), never an error.
QUERY_COUNTS = {"": 1, "n=": 1, "n=abc": 1, "n=0": 1, "n=-5": 1, "n=1": 1, "n=7": 7, "n=20": 20, "n=500": 500,
                "n=501": 500, "n=99999999999999999999": 500, "n=1.5": 1, "n=%2B5": 1, "n=5&n=9": 5, "m=5": 1}

VALID_BIO = json.dumps({"bio": "valid, but never sent to an id that exists"}).encode()

# (Content-Type, body) pairs for PATCH /users/{id} that must get a 4xx and change nothing.
BAD_EDIT_BODIES = (
    ("application/json", b"{}"),
    ("application/json", b'{"bio": "x", "email": "mallory@example.com"}'),
    ("application/json", b'{"BIO": "x"}'),
    ("application/json", b'{"bio": 1}'),
    ("application/json", b'{"bio": null}'),
    ("application/json", b'{"bio": true}'),
    ("application/json", b'{"bio": ["x"]}'),
    ("application/json", b'{"bio": {"text": "x"}}'),
    ("application/json", b'{"bio": ""}'),
    ("application/json", json.dumps({"bio": "x" * 1001}).encode()),
    ("application/json", json.dumps({"bio": "é" * 1001}, ensure_ascii=False).encode()),
    ("application/json", b'{"bio": "a\\u0000b"}'),
    ("application/json", b'{"bio": "\\ud800"}'),
    ("application/json", b'{"bio": "x\\udc00y"}'),
    ("application/json", b'["bio", "x"]'),
    ("application/json", b'"x"'),
    ("application/json", b"null"),
    ("application/json", b""),
    ("application/json", b"bio=x"),
    ("application/json", b'{"bio": "x"'),
    ("application/json", b'{"bio": "x"} {"bio": "y"}'),
    ("application/json", b'{"bio": "\xff\xfe"}'),
    ("application/json", b"[" * 10_000),
    ("application/json", json.dumps({"bio": "x" * 70_000}).encode()),
    ("text/plain", b'{"bio": "x"}'),
    ("application/x-www-form-urlencoded", b"bio=x"),
    (None, b'{"bio": "x"}'),
)

# Valid bios the edit check sets and reads back (then puts the row back as it was).
EDIT_BIOS = (
    "edited by the verifier",
    "Zoë Łukasz Nguyễn — ünïcödé, quotes \" and backslashes \\ and a tab\t",
    "x" * 1000,
    "日本語" * 333 + "!",
    "'; DROP TABLE users; --",
)
