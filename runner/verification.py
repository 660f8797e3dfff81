"""The verification stage: a cell must do exactly what the contract says before it is measured.

Checks values field by field against PostgreSQL, status codes for missing and malformed
ids, headers, the connections its pool holds, and, through pg_stat_statements, that each
request sends exactly one lookup; everything else it sends is counted by kind.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC

import httpx
import psycopg
from psycopg import sql

from runner import database
from runner.errors import DbbenchError

FIELDS = ("id", "username", "email", "full_name", "bio", "is_active", "created_at")
ROWS_BY_ID = sql.SQL("SELECT {} FROM users WHERE id = ANY(%s)").format(sql.SQL(", ").join(map(sql.Identifier, FIELDS)))
VALUE_SAMPLE = 50
STATEMENT_REQUESTS = 200
INT4_MAX = 2**31 - 1

# Well-formed integers with no row: 404.
MISSING_IDS = ("0", "-1", "-2147483648", "2147483647", "2147483648", "-2147483649",
               "9223372036854775808", "99999999999999999999999")

# Malformed ids: a 4xx, never a 5xx, never a dropped connection. Already percent-encoded.
MALFORMED_IDS = (
    "abc", "1.5", "1e3", "0x1A", "%27%20OR%201=1", "1;DROP%20TABLE%20users", "", "9" * 4096,
    "-", "--1", "1-", "%00", "1%00", "NaN", "Infinity", "null", "true", "%5B1%5D", "%7B%7D",
    "%E2%80%8B1", "1,2", "%2e%2e", "0b101", "1%2F2", "1%2B1",
)

# Spellings that Python's int() accepts (underscores, surrounding spaces, non-ASCII digits).
# A framework whose own integer parser takes them may answer with the user they denote;
# anything else must be a 4xx. Never a 5xx. (schema/http-contract.md, "Lenient spellings")
LENIENT_IDS = {"1_000": 1000, "%201": 1, "1%20": 1, "%0A1": 1, "%D9%A1": 1, "%EF%BC%91": 1}

LOOKUP = re.compile(r"\bfrom\s+(?:\w+\.)?\"?users\"?(?:\s|$)", re.IGNORECASE)
STATEMENT_KINDS = (
    ("pool reset", re.compile(
        r"^\s*(select\s+pg_advisory_unlock_all\(\)|close\s+all|unlisten\s+\*|reset\s+all|discard\s+all"
        r"|deallocate\s+all)\s*;?\s*$", re.IGNORECASE)),
    ("transaction", re.compile(
        r"^\s*(begin|start\s+transaction|commit|rollback|end|savepoint|release)\b", re.IGNORECASE)),
    ("session setup", re.compile(
        r"^\s*(set|show|select\s+(pg_catalog\.)?(version|current_schema|current_setting)\s*\()"
        r"|\bpg_catalog\.pg_(type|namespace|attribute|range|class)\b", re.IGNORECASE)),
)


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


@dataclass
class Verdict:
    checks: list[Check] = field(default_factory=list)
    statements_per_request: dict[str, float] = field(default_factory=dict)
    statements: list[dict] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(check.ok for check in self.checks)

    @property
    def first_failure(self) -> str | None:
        return next((f"{c.name}: {c.detail}" for c in self.checks if not c.ok), None)

    def add(self, name: str, failures: list[str], passed: str) -> None:
        shown = "; ".join(failures[:3]) + (f" (+{len(failures) - 3} more)" if len(failures) > 3 else "")
        self.checks.append(Check(name, not failures, shown if failures else passed))

    def as_dict(self) -> dict:
        return {
            "ok": self.ok,
            "checks": [vars(check) for check in self.checks],
            "statements_per_request": self.statements_per_request,
            "statements": self.statements,
        }


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


def classify(query: str) -> str:
    if LOOKUP.search(query):
        return "lookup"
    for kind, pattern in STATEMENT_KINDS:
        if pattern.search(query):
            return kind
    return "other"


def json_or_none(response: httpx.Response) -> dict:
    """The body as a JSON object, or {} when it is not one."""
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def content_type_ok(response: httpx.Response) -> bool:
    media = response.headers.get("content-type", "").split(";")[0].strip().lower()
    return media == "application/json"


def body_length_ok(response: httpx.Response) -> bool:
    headers = response.headers
    if "chunked" in headers.get("transfer-encoding", "").lower():
        return True
    length = headers.get("content-length")
    return length is not None and length.isdigit() and int(length) == len(response.content)


class Verifier:
    """Runs every check against one running cell."""

    def __init__(self, base_url: str, db_url: str, expected_connections: int | None = None,
                 rng_seed: int = 20201123, held_connections: Callable[[], int] | None = None):
        """`held_connections` counts the connections the cell itself holds (other cells may be
        up at the same time); without it, every client connection to the database counts."""
        self.base_url = base_url.rstrip("/")
        self.db_url = db_url
        self.expected_connections = expected_connections
        self.held_connections = held_connections
        self.rng = random.Random(rng_seed)

    def run(self) -> Verdict:
        """Every check; a cell or database that cannot be reached fails the verdict with the
        reason, it does not raise."""
        verdict = Verdict()
        try:
            with database.connect(self.db_url) as conn, httpx.Client(timeout=10.0) as client:
                self.get(client, "1")
                max_id = conn.execute("SELECT max(id) FROM users").fetchone()[0] or 0
                if self.expected_connections is not None:
                    self.check_pool(conn, verdict)
                self.check_values(conn, client, verdict, max_id)
                self.check_missing(client, verdict, max_id)
                self.check_malformed(client, verdict)
                self.check_statements(conn, client, verdict, max_id)
        except httpx.HTTPError as exc:
            verdict.add("reachable", [f"the cell at {self.base_url} does not answer: {type(exc).__name__}"], "")
        except (DbbenchError, psycopg.Error) as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            verdict.add("database", [database.scrub(reason, self.db_url)], "")
        return verdict

    def count_connections(self, conn) -> int:
        if self.held_connections is not None:
            return self.held_connections()
        return conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
        ).fetchone()[0]

    def get(self, client: httpx.Client, raw_id: str) -> httpx.Response:
        return client.get(f"{self.base_url}/users/{raw_id}")

    def request(self, client: httpx.Client, raw_id: str, failures: list[str]) -> httpx.Response | None:
        """GET /users/{raw_id}; no answer at all (a dropped connection, a time-out) is a failure."""
        try:
            return self.get(client, raw_id)
        except httpx.HTTPError as exc:
            failures.append(f"/users/{shorten(raw_id)}: no answer ({type(exc).__name__})")
            return None

    def check_pool(self, conn, verdict: Verdict) -> None:
        """The pool is opened at start-up at full size: the connections are already there."""
        count = 0
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            count = self.count_connections(conn)
            if count >= self.expected_connections:
                break
            time.sleep(0.2)
        failures = [] if count == self.expected_connections else [
            f"{count} database connections open after start-up, expected {self.expected_connections}"
        ]
        verdict.add("pool", failures, f"{count} connections open at start-up")

    def check_values(self, conn, client: httpx.Client, verdict: Verdict, max_id: int) -> None:
        ids = self.rng.sample(range(1, max_id + 1), min(VALUE_SAMPLE, max_id))
        rows = {
            row[0]: dict(zip(FIELDS, row, strict=True))
            for row in conn.execute(ROWS_BY_ID, (ids,))
        }
        failures: list[str] = []
        for user_id in ids:
            response = self.request(client, str(user_id), failures)
            if response is None:
                continue
            if response.status_code != 200:
                failures.append(f"/users/{user_id}: status {response.status_code}, expected 200")
                continue
            if not content_type_ok(response):
                failures.append(f"/users/{user_id}: Content-Type {response.headers.get('content-type')!r}")
            if not body_length_ok(response):
                failures.append(f"/users/{user_id}: neither a matching Content-Length nor chunked")
            try:
                body = response.json()
            except ValueError:
                failures.append(f"/users/{user_id}: body is not JSON")
                continue
            if not isinstance(body, dict) or set(body) != set(FIELDS):
                keys = sorted(body) if isinstance(body, dict) else type(body).__name__
                failures.append(f"/users/{user_id}: keys {keys}, expected {sorted(FIELDS)}")
                continue
            if user_id not in rows:
                failures.append(f"/users/{user_id}: answered 200, but the database has no such row")
                continue
            want = expected_json(rows[user_id])
            for name in FIELDS:
                if not same_value(body[name], want[name]):
                    failures.append(f"/users/{user_id}: {name} is {body[name]!r}, database has {want[name]!r}")
        verdict.add("values", failures, f"{len(ids)} random ids match the database field by field")

    def check_missing(self, client: httpx.Client, verdict: Verdict, max_id: int) -> None:
        failures = []
        for raw_id in (*MISSING_IDS, str(max_id + 1)):
            response = self.request(client, raw_id, failures)
            if response is None:
                continue
            if response.status_code != 404:
                failures.append(f"/users/{raw_id}: status {response.status_code}, expected 404")
            elif not content_type_ok(response):
                failures.append(f"/users/{raw_id}: 404 body is not JSON")
        verdict.add("missing", failures, f"{len(MISSING_IDS) + 1} missing ids give a JSON 404")

    def check_malformed(self, client: httpx.Client, verdict: Verdict) -> None:
        failures = []
        for raw_id in MALFORMED_IDS:
            response = self.request(client, raw_id, failures)
            if response is not None and not 400 <= response.status_code < 500:
                failures.append(f"/users/{shorten(raw_id)}: status {response.status_code}, expected 4xx")
        accepted = []
        for raw_id, denoted in LENIENT_IDS.items():
            response = self.request(client, raw_id, failures)
            if response is None or 400 <= response.status_code < 500:
                continue
            accepted.append(raw_id)
            if response.status_code != 200 or not content_type_ok(response) or \
                    not same_value(json_or_none(response).get("id"), denoted):
                failures.append(f"/users/{raw_id}: status {response.status_code}, expected 4xx or user {denoted}")
        last = self.request(client, "1", failures)
        if last is None or last.status_code != 200:
            failures.append("the server no longer answers /users/1 after the malformed requests")
        verdict.add(
            "malformed", failures,
            f"{len(MALFORMED_IDS)} malformed ids give a 4xx, server still up; lenient spellings answered "
            f"with the user they denote: {', '.join(accepted) or 'none'}",
        )

    def check_statements(self, conn, client: httpx.Client, verdict: Verdict, max_id: int) -> None:
        """N requests must execute the lookup exactly N times; the rest is counted by kind."""
        ids = [self.rng.randint(1, max_id) for _ in range(STATEMENT_REQUESTS)]
        for user_id in ids[:20]:
            self.get(client, str(user_id))
        try:
            conn.execute("SELECT pg_stat_statements_reset()")
        except Exception as exc:  # noqa: BLE001 - any failure here means the count is unknown
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            verdict.add("statements", [f"pg_stat_statements is not usable here: {reason}"], "")
            return
        failures = []
        for user_id in ids:
            response = self.request(client, str(user_id), failures)
            if response is not None and response.status_code != 200:
                failures.append(f"/users/{user_id}: status {response.status_code}")
        time.sleep(0.3)
        rows = conn.execute(
            "SELECT query, calls FROM pg_stat_statements "
            "WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) "
            "AND query NOT ILIKE '%%pg_stat_statements%%' ORDER BY calls DESC"
        ).fetchall()
        requests = len(ids)
        by_kind: dict[str, int] = {}
        for query, calls in rows:
            kind = classify(query)
            by_kind[kind] = by_kind.get(kind, 0) + calls
            verdict.statements.append({"kind": kind, "calls": calls, "query": " ".join(query.split())[:200]})
        lookups = by_kind.get("lookup", 0)
        if lookups != requests:
            failures.append(f"{requests} requests executed the lookup {lookups} times")
        for statement in verdict.statements:
            if statement["kind"] == "other":
                failures.append(f"unexpected statement x{statement['calls']}: {statement['query'][:80]}")
        verdict.statements_per_request = {kind: round(calls / requests, 3) for kind, calls in by_kind.items()}
        shown = ", ".join(f"{kind} {value:g}" for kind, value in verdict.statements_per_request.items())
        verdict.add("statements", failures, f"per request: {shown}")
