"""The verification stage: a cell must do exactly what the contract says before it is measured.

For each endpoint its scenario uses: values field by field against PostgreSQL, status
codes for missing and malformed input (runner/verify/bad_inputs.py), headers, and, through
pg_stat_statements, that each request sends exactly the lookups and updates its strategy
makes (EXPECTED_STATEMENTS); everything else it sends is counted by kind. Also the
connections its pool holds. An edit check puts every row it changed back as it was.
"""

from __future__ import annotations

import json
import random
import re
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path

import httpx
import psycopg
from psycopg import sql

from runner.base.errors import DbbenchError
from runner.base.scenarios import ENDPOINTS, RELATION_ENDPOINTS
from runner.db import database, roles, seeding
from runner.verify.bad_inputs import (
    BAD_EDIT_BODIES,
    BAD_FEED_QUERIES,
    BAD_PAGE_QUERIES,
    EDIT_BIOS,
    LENIENT_IDS,
    MALFORMED_IDS,
    MISSING_IDS,
    MISSING_USERNAMES,
    ODD_USERNAMES,
    QUERY_COUNTS,
    VALID_BIO,
)

ROUND_TRIP_SAMPLES = 15
FIELDS = ("id", "username", "email", "full_name", "bio", "is_active", "created_at")
COLUMNS = sql.SQL(", ").join(map(sql.Identifier, FIELDS))
ROWS_BY_ID = sql.SQL("SELECT {} FROM users WHERE id = ANY(%s)").format(COLUMNS)
ROWS_AFTER = sql.SQL("SELECT {} FROM users WHERE id > %s ORDER BY id LIMIT %s").format(COLUMNS)
PUT_BIO_BACK = "UPDATE users SET bio = %s WHERE id = %s"
POST_FIELDS = ("id", "title", "created_at", "likes")
AUTHOR_FIELDS = ("id", "username", "full_name")
LATEST_POSTS = 10
USER_POSTS = ("SELECT id, title, created_at, likes, count(*) OVER () FROM posts WHERE user_id = %s "
              "ORDER BY created_at DESC, id DESC")
FEED = ("SELECT p.id, p.title, p.created_at, p.likes, u.id, u.username, u.full_name FROM posts AS p "
        "JOIN users AS u ON u.id = p.user_id WHERE p.id < %s ORDER BY p.id DESC LIMIT %s")
QUERIES_N = 20  # the /queries statement check: this many lookups per request, exactly
PER_AUTHOR = "1 + authors"  # a lazy feed's promise: the page, then each distinct author on it
PAGE_AUTHORS = ("SELECT count(DISTINCT user_id) FROM (SELECT user_id FROM posts WHERE id < %s ORDER BY id DESC "
                "LIMIT 20) AS page")
VALUE_SAMPLE = 50
PAGE_SAMPLE = 20
EDIT_SAMPLE = 10
# Exact counts: N requests must send k x N statements of each kind, whatever N. 50 take half
# the time 100 did, which every run pays for every cell before it measures it.
STATEMENT_REQUESTS = 50
# Value checks and counted requests go 4 at a time: an answer and a count are per request
# whatever the order, and one request at a time spent most of a verification waiting.
CONCURRENCY = 4
INT4_MAX = 2**31 - 1

# Lookups and updates one request of an endpoint sends, by strategy (schema/http-contract.md,
# "Per request"); exact, where every other kind is counted and shown. An edit is one
# UPDATE ... RETURNING in raw SQL and Core, a load and an update in an ORM, baked or not.
READ = {"lookup": 1, "update": 0}
EXPECTED_STATEMENTS = {
    "by-id": dict.fromkeys(("raw", "core", "orm", "baked"), READ),
    "by-username": dict.fromkeys(("raw", "core", "orm", "baked"), READ),
    "page": dict.fromkeys(("raw", "core", "orm", "baked"), READ),
    "edit": {"raw": {"lookup": 0, "update": 1}, "core": {"lookup": 0, "update": 1},
             "orm": {"lookup": 1, "update": 1}, "baked": {"lookup": 1, "update": 1}},
}

UPDATE = re.compile(r"^\s*update\s+(?:\w+\.)?\"?users\"?(?:\s|$)", re.IGNORECASE)
LOOKUP = re.compile(r"\bfrom\s+(?:\w+\.)?\"?(?:users|posts)\"?(?:\s|$)", re.IGNORECASE)
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
    statements_per_request: dict[str, float] = field(default_factory=dict)  # the scenario's, weighted
    by_endpoint: dict[str, dict[str, float]] = field(default_factory=dict)
    statements: list[dict] = field(default_factory=list)
    round_trip_ms: float | None = None  # p50 of sequential lookups, measured when a proxy adds latency
    statements_counted: str | None = None  # whose statements the counts are: the cell's role alone, or why not

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
            "statements_by_endpoint": self.by_endpoint,
            "statements": self.statements,
            "round_trip_ms": self.round_trip_ms,
            "statements_counted": self.statements_counted,
        }


class VerdictsFile:
    """verify --json: each cell's verdict written as soon as it is known (atomically), so an
    interrupted session keeps what it checked; written once before any cell starts, so a path
    that cannot be written is an error before anything runs."""

    def __init__(self, path: Path, document: dict):
        self.path, self.document = path, document
        self.write()

    def add(self, name: str, verdict: str, detail: str, found: Verdict | None = None) -> None:
        self.document["cells"][name] = {"verdict": verdict, "detail": detail, **(found.as_dict() if found else {})}
        self.write()

    def write(self) -> None:
        from runner.report import results

        try:
            results.write_json(self.document, self.path)
        except DbbenchError as exc:
            raise DbbenchError(f"--json: {exc}".removesuffix("; the last good results file is kept")) from None


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
    if UPDATE.search(query):
        return "update"
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


def verify_running(process, admin_url: str, login: roles.Login, count_pool: bool = True, **checks) -> Verdict:
    """The verdict on one running cell (a cells.CellProcess or RemoteCell): its pool counted on
    its own sockets to the address it connects to, its statements under its own role;
    `checks` as Verifier takes them (endpoints, weights, db_latency_ms)."""
    db_port = database.port_of(login.url)
    cell = process.cell
    return Verifier(process.base_url, admin_url, strategy=cell.variant.strategy, relations=cell.variant.relations,
                    expected_connections=process.expected_connections if count_pool else None,
                    held_connections=lambda: process.database_connections(db_port), login=login, **checks).run()


def weighted(by_endpoint: dict[str, dict[str, float]], weights: dict[str, float] | None) -> dict[str, float]:
    """Statements per request of a scenario: its endpoints' figures, weighted by its mix."""
    if len(by_endpoint) == 1:
        return next(iter(by_endpoint.values()))
    if not weights:
        return {}
    total = sum(weights.get(endpoint, 0) for endpoint in by_endpoint) or 1
    kinds = {kind for figures in by_endpoint.values() for kind in figures}
    return {kind: round(sum(weights.get(endpoint, 0) * figures.get(kind, 0.0)
                            for endpoint, figures in by_endpoint.items()) / total, 3) for kind in sorted(kinds)}


class Verifier:
    """Runs every check of the given endpoints against one running cell."""

    def __init__(self, base_url: str, db_url: str, expected_connections: int | None = None,
                 rng_seed: int = 20201123, held_connections: Callable[[], int] | None = None,
                 endpoints: tuple[str, ...] = ("by-id",), strategy: str = "raw",
                 weights: dict[str, float] | None = None, db_latency_ms: int = 0,
                 relations: dict[str, int] | None = None, login: roles.Login | None = None):
        """`held_connections` counts the connections the cell itself holds (other cells may be
        up at the same time); without it, every client connection to the database counts.
        `weights` (endpoint: share) make the scenario's statements per request from each
        endpoint's. `db_latency_ms`: the round trip a proxy adds; the lookups must show it.
        `relations`: the lookups per request the variant promises for each relationship endpoint
        (apps/cells.toml), held exactly. `login`: the role the cell connects as, whose statements
        alone are counted and reset (runner/db/roles.py); without one, every statement sent to this
        database in the counting window counts, a neighbour's too."""
        unknown = [endpoint for endpoint in endpoints if endpoint not in ENDPOINTS]
        unpromised = [endpoint for endpoint in endpoints if endpoint in RELATION_ENDPOINTS
                      and endpoint not in (relations or {})]
        if unknown or unpromised or strategy not in EXPECTED_STATEMENTS["edit"]:
            raise DbbenchError(f"nothing to verify for endpoints {unknown or unpromised} / strategy {strategy!r}")
        self.relations = relations or {}
        self.base_url = base_url.rstrip("/")
        self.db_url = db_url
        self.expected_connections = expected_connections
        self.held_connections = held_connections
        self.endpoints = endpoints
        self.strategy = strategy
        self.weights = weights
        self.db_latency_ms = db_latency_ms
        self.rng = random.Random(rng_seed)
        self.login = login

    def run(self) -> Verdict:
        """Every check; a cell or database that cannot be reached fails the verdict with the
        reason, it does not raise."""
        verdict = Verdict()
        checks = {"by-id": self.check_by_id, "by-username": self.check_by_username, "page": self.check_page,
                  "edit": self.check_edit, "user-posts": self.check_user_posts, "feed": self.check_feed,
                  "queries": self.check_queries}
        try:
            with database.connect(self.db_url) as conn, httpx.Client(timeout=10.0) as client:
                self.get(client, "/users/1")
                max_id = conn.execute("SELECT max(id) FROM users").fetchone()[0] or 0
                if self.expected_connections is not None:
                    self.check_pool(conn, verdict)
                if self.db_latency_ms:
                    self.check_round_trip(client, verdict, max_id)
                for endpoint in self.endpoints:
                    checks[endpoint](conn, client, verdict, max_id)
                verdict.statements_per_request = weighted(verdict.by_endpoint, self.weights)
                verdict.statements_counted = (self.login or roles.Login(self.db_url, None, "no role given")).counted_for
        except httpx.HTTPError as exc:
            verdict.add("reachable", [f"the cell at {self.base_url} does not answer: {type(exc).__name__}"], "")
        except (DbbenchError, psycopg.Error) as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            verdict.add("database", [database.scrub(reason, self.db_url)], "")
        return verdict

    def count_connections(self, conn) -> int:
        if self.held_connections is not None:
            return self.held_connections()
        return self.backends(conn)

    @staticmethod
    def backends(conn) -> int:
        """PostgreSQL's own count of client connections to this database, every cell's."""
        return conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
        ).fetchone()[0]

    def get(self, client: httpx.Client, path: str) -> httpx.Response:
        return client.get(f"{self.base_url}{path}")

    def patch(self, client: httpx.Client, path: str, content_type: str | None, body: bytes) -> httpx.Response:
        headers = {"Content-Type": content_type} if content_type else {}
        return client.patch(f"{self.base_url}{path}", content=body, headers=headers)

    def request(self, client: httpx.Client, path: str, failures: list[str], method: str = "GET",
                content_type: str | None = None, body: bytes = b"") -> httpx.Response | None:
        """One request; no answer at all (a dropped connection, a time-out) is a failure."""
        try:
            if method == "PATCH":
                return self.patch(client, path, content_type, body)
            return self.get(client, path)
        except httpx.HTTPError as exc:
            failures.append(f"{method} {shorten(path)}: no answer ({type(exc).__name__})")
            return None

    def request_all(self, client: httpx.Client, paths: list[str], failures: list[str], method: str = "GET",
                    bodies: list[bytes] | None = None) -> list[httpx.Response | None]:
        """Requests CONCURRENCY at a time (httpx's client is thread-safe); answers in the order of `paths`."""
        with ThreadPoolExecutor(CONCURRENCY) as workers:
            return list(workers.map(lambda path, body: self.request(client, path, failures, method,
                                                                    "application/json", body),
                                    paths, bodies or [b""] * len(paths)))

    def still_answers(self, client: httpx.Client, failures: list[str], after: str) -> None:
        last = self.request(client, "/users/1", failures)
        if last is None or last.status_code != 200:
            failures.append(f"the server no longer answers /users/1 after the {after}")

    def check_pool(self, conn, verdict: Verdict) -> None:
        """The pool is opened at start-up at full size: the connections are already there."""
        count = 0
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            count = self.count_connections(conn)
            if count >= self.expected_connections:
                break
            time.sleep(0.05)
        failures = [] if count == self.expected_connections else [
            f"{count} database connections open after start-up, expected {self.expected_connections}"
            + ("" if self.held_connections is None else
               f" (counted on the cell's sockets; PostgreSQL counts {self.backends(conn)} on this database, "
               "every cell's)")
        ]
        verdict.add("pool", failures, f"{count} connections open at start-up")

    def check_round_trip(self, client: httpx.Client, verdict: Verdict, max_id: int) -> None:
        """With a proxy adding a round trip, a lookup takes at least that long: else the cell
        does not talk to PostgreSQL through it."""
        failures: list[str] = []
        took = []
        for _ in range(ROUND_TRIP_SAMPLES):
            started = time.perf_counter()
            response = self.request(client, f"/users/{self.rng.randint(1, max(max_id, 1))}", failures)
            took.append((time.perf_counter() - started) * 1000)
            if response is not None and response.status_code != 200:
                failures.append(f"a lookup answered {response.status_code}")
        p50 = sorted(took)[len(took) // 2]
        if p50 < self.db_latency_ms:
            failures.append(f"p50 of {ROUND_TRIP_SAMPLES} sequential lookups is {p50:.1f} ms, under the "
                            f"{self.db_latency_ms} ms the proxy adds: the cell does not go through it")
        verdict.add("db round trip", failures, f"p50 of {ROUND_TRIP_SAMPLES} sequential lookups {p50:.1f} ms "
                                               f"with {self.db_latency_ms} ms added per round trip")
        verdict.round_trip_ms = round(p50, 2)

    # ------------------------------------------------------------- one user as JSON

    def user_failures(self, path: str, response: httpx.Response, want: dict | None, failures: list[str]) -> None:
        """A 200 JSON object equal, field by field and type by type, to the row `want`."""
        if response.status_code != 200:
            failures.append(f"{path}: status {response.status_code}, expected 200")
            return
        if not content_type_ok(response):
            failures.append(f"{path}: Content-Type {response.headers.get('content-type')!r}")
        if not body_length_ok(response):
            failures.append(f"{path}: neither a matching Content-Length nor chunked")
        body = json_or_none(response)
        self.same_user(path, body, want, failures)

    def same_user(self, where: str, body, want: dict | None, failures: list[str]) -> None:
        if not isinstance(body, dict) or set(body) != set(FIELDS):
            keys = sorted(body) if isinstance(body, dict) and body else "not a JSON object with the user's keys"
            failures.append(f"{where}: keys {keys}, expected {sorted(FIELDS)}")
            return
        if want is None:
            failures.append(f"{where}: answered a user, but the database has no such row")
            return
        expected = expected_json(want)
        for name in FIELDS:
            if not same_value(body[name], expected[name]):
                failures.append(f"{where}: {name} is {shorten(repr(body[name]))}, database has "
                                f"{shorten(repr(expected[name]))}")

    def rows(self, conn, ids: list[int]) -> dict[int, dict]:
        return {row[0]: dict(zip(FIELDS, row, strict=True)) for row in conn.execute(ROWS_BY_ID, (ids,))}

    def json_404(self, client: httpx.Client, path: str, failures: list[str]) -> None:
        response = self.request(client, path, failures)
        if response is None:
            return
        if response.status_code != 404:
            failures.append(f"{shorten(path)}: status {response.status_code}, expected 404")
        elif not content_type_ok(response):
            failures.append(f"{shorten(path)}: 404 body is not JSON")

    # ------------------------------------------------------------- GET /users/{id}

    def check_by_id(self, conn, client: httpx.Client, verdict: Verdict, max_id: int) -> None:
        self.check_values(conn, client, verdict, max_id)
        self.check_missing(client, verdict, max_id)
        self.check_malformed(client, verdict)
        self.check_statements(conn, client, verdict, "by-id",
                              [f"/users/{self.rng.randint(1, max_id)}" for _ in range(STATEMENT_REQUESTS)])

    def check_values(self, conn, client: httpx.Client, verdict: Verdict, max_id: int) -> None:
        ids = self.rng.sample(range(1, max_id + 1), min(VALUE_SAMPLE, max_id))
        rows = self.rows(conn, ids)
        failures: list[str] = []
        paths = [f"/users/{user_id}" for user_id in ids]
        for user_id, path, response in zip(ids, paths, self.request_all(client, paths, failures), strict=True):
            if response is not None:
                self.user_failures(path, response, rows.get(user_id), failures)
        verdict.add("values", failures, f"{len(ids)} random ids match the database field by field")

    def check_missing(self, client: httpx.Client, verdict: Verdict, max_id: int) -> None:
        failures: list[str] = []
        for raw_id in (*MISSING_IDS, str(max_id + 1)):
            self.json_404(client, f"/users/{raw_id}", failures)
        verdict.add("missing", failures, f"{len(MISSING_IDS) + 1} missing ids give a JSON 404")

    def check_malformed(self, client: httpx.Client, verdict: Verdict) -> None:
        failures: list[str] = []
        for raw_id in MALFORMED_IDS:
            response = self.request(client, f"/users/{raw_id}", failures)
            if response is not None and not refused(response):
                failures.append(f"/users/{shorten(raw_id)}: status {response.status_code}, expected 4xx")
        accepted = []
        for raw_id, denoted in LENIENT_IDS.items():
            response = self.request(client, f"/users/{raw_id}", failures)
            if response is None or 400 <= response.status_code < 500:
                continue
            accepted.append(raw_id)
            if response.status_code != 200 or not content_type_ok(response) or \
                    not same_value(json_or_none(response).get("id"), denoted):
                failures.append(f"/users/{raw_id}: status {response.status_code}, expected 4xx or user {denoted}")
        self.still_answers(client, failures, "malformed requests")
        verdict.add(
            "malformed", failures,
            f"{len(MALFORMED_IDS)} malformed ids give a 4xx, server still up; lenient spellings answered "
            f"with the user they denote: {', '.join(accepted) or 'none'}",
        )

    # ------------------------------------------------------------- GET /users/by-username/{username}

    def check_by_username(self, conn, client: httpx.Client, verdict: Verdict, max_id: int) -> None:
        ids = self.rng.sample(range(1, max_id + 1), min(VALUE_SAMPLE, max_id))
        rows = self.rows(conn, ids)
        failures: list[str] = []
        paths = [f"/users/by-username/{rows[user_id]['username']}" for user_id in ids]
        for user_id, path, response in zip(ids, paths, self.request_all(client, paths, failures), strict=True):
            if response is not None:
                self.user_failures(path, response, rows[user_id], failures)
        verdict.add("by-username values", failures, f"{len(ids)} random usernames match the database")
        failures = []
        for name in MISSING_USERNAMES:
            self.json_404(client, f"/users/by-username/{name}", failures)
        for name in ODD_USERNAMES:
            response = self.request(client, f"/users/by-username/{name}", failures)
            if response is not None and response.status_code >= 500:
                failures.append(f"/users/by-username/{shorten(name)}: status {response.status_code}")
        self.still_answers(client, failures, "odd usernames")
        verdict.add("by-username missing", failures,
                    f"{len(MISSING_USERNAMES)} unknown usernames give a JSON 404, {len(ODD_USERNAMES)} odd ones "
                    "no 5xx")
        usernames = [row[0] for row in conn.execute(
            "SELECT username FROM users WHERE id = ANY(%s)",
            ([self.rng.randint(1, max_id) for _ in range(STATEMENT_REQUESTS)],))]
        self.check_statements(conn, client, verdict, "by-username",
                              [f"/users/by-username/{name}" for name in usernames])

    # ------------------------------------------------------------- GET /users?after=&limit=

    def check_page(self, conn, client: httpx.Client, verdict: Verdict, max_id: int) -> None:
        cases = [(self.rng.randint(0, max_id), 20) for _ in range(PAGE_SAMPLE)]
        cases += [(max(max_id - 5, 0), 20), (max(max_id - 20, 0), 20), (max_id, 20), (0, 1), (0, 100),
                  (self.rng.randint(0, max_id), 100), (None, None)]
        failures: list[str] = []
        paths = [f"/users?after={after}&limit={limit}" if after is not None else "/users" for after, limit in cases]
        for (after, limit), path, response in zip(cases, paths, self.request_all(client, paths, failures),
                                                  strict=True):
            want = conn.execute(ROWS_AFTER, (after or 0, limit or 20)).fetchall()
            if response is not None:
                self.page_failures(path, response, [dict(zip(FIELDS, row, strict=True)) for row in want],
                                   limit or 20, failures)
        verdict.add("page values", failures,
                    f"{len(cases)} pages (random, the last ones, limits 1 to 100, the defaults) match the database "
                    "row by row, next_after included")
        self.check_bad_queries(client, verdict, "/users", BAD_PAGE_QUERIES, "page")
        self.check_statements(conn, client, verdict, "page",
                              [f"/users?after={self.rng.randint(0, max_id)}&limit=20"
                               for _ in range(STATEMENT_REQUESTS)])

    def check_bad_queries(self, client: httpx.Client, verdict: Verdict, path: str, queries: tuple[str, ...],
                          name: str) -> None:
        """Each query string on `path` gets a 4xx, and the server still answers afterwards."""
        failures: list[str] = []
        for query in queries:
            response = self.request(client, f"{path}?{query}", failures)
            if response is not None and not 400 <= response.status_code < 500:
                failures.append(f"{path}?{shorten(query)}: status {response.status_code}, expected 4xx")
        self.still_answers(client, failures, f"bad {name} queries")
        verdict.add(f"{name} bad input", failures, f"{len(queries)} bad queries give a 4xx, server still up")

    def page_failures(self, path: str, response: httpx.Response, want: list[dict], limit: int,
                      failures: list[str]) -> None:
        if response.status_code != 200 or not content_type_ok(response):
            failures.append(f"{path}: status {response.status_code}, {response.headers.get('content-type')!r}")
            return
        body = json_or_none(response)
        if set(body) != {"users", "next_after"} or not isinstance(body["users"], list):
            failures.append(f"{path}: keys {sorted(body)}, expected ['next_after', 'users']")
            return
        if len(body["users"]) != len(want):
            failures.append(f"{path}: {len(body['users'])} users, the database has {len(want)}")
            return
        for got, row in zip(body["users"], want, strict=True):
            self.same_user(f"{path} user {row['id']}", got, row, failures)
        next_after = want[-1]["id"] if len(want) == limit else None
        if not same_value(body["next_after"], next_after):
            failures.append(f"{path}: next_after is {body['next_after']!r}, expected {next_after!r}")

    # ------------------------------------------------------------- PATCH /users/{id}

    def check_edit(self, conn, client: httpx.Client, verdict: Verdict, max_id: int) -> None:
        """Each change is read back from the database, then the row is put back as it was."""
        ids = self.rng.sample(range(1, max_id + 1), min(EDIT_SAMPLE, max_id))
        failures: list[str] = []
        with self.bios_put_back(conn, ids) as before:
            for number, user_id in enumerate(ids):
                bio = (EDIT_BIOS[number % len(EDIT_BIOS)] + f" #{self.rng.randrange(10**6)}")[:1000]
                path = f"/users/{user_id}"
                response = self.request(client, path, failures, "PATCH", "application/json",
                                        json.dumps({"bio": bio}).encode())
                if response is None:
                    continue
                changed = {**before[user_id], "bio": bio}
                self.user_failures(f"PATCH {path}", response, changed, failures)
                stored = self.rows(conn, [user_id]).get(user_id)
                if stored != changed:
                    failures.append(f"PATCH {path}: the row read back is not the user with the new bio")
        verdict.add("edit values", failures,
                    f"{len(ids)} edits answer the changed user and are in the database (rows put back after)")
        self.check_bad_edits(conn, client, verdict, max_id)
        edits = sorted({self.rng.randint(1, max_id) for _ in range(STATEMENT_REQUESTS)})
        with self.bios_put_back(conn, edits):
            self.check_statements(conn, client, verdict, "edit", [f"/users/{user_id}" for user_id in edits],
                                  method="PATCH")

    @contextmanager
    def bios_put_back(self, conn, ids: list[int]) -> Iterator[dict[int, dict]]:
        """The rows as they are, given to the block; their bios are written back when it ends,
        however it ends (an edit check changes real rows)."""
        before = self.rows(conn, ids)
        try:
            yield before
        finally:
            with conn.cursor() as cursor:
                cursor.executemany(PUT_BIO_BACK, [(row["bio"], user_id) for user_id, row in before.items()])

    def check_bad_edits(self, conn, client: httpx.Client, verdict: Verdict, max_id: int) -> None:
        """Bad bodies, malformed and missing ids: a 4xx each, and the table's checksum unchanged."""
        checksum = conn.execute(seeding.CHECKSUM_SQL).fetchone()[0]
        target_id = self.rng.randint(1, max_id)
        target = f"/users/{target_id}"
        failures: list[str] = []
        with self.bios_put_back(conn, [target_id]):
            for content_type, body in BAD_EDIT_BODIES:
                response = self.request(client, target, failures, "PATCH", content_type, body)
                if response is not None and not 400 <= response.status_code < 500:
                    failures.append(f"PATCH {target} ({content_type}, {shorten(body.decode(errors='replace'))}): "
                                    f"status {response.status_code}, expected 4xx")
            changed = conn.execute(seeding.CHECKSUM_SQL).fetchone()[0] != checksum
        for raw_id in MALFORMED_IDS[:8]:
            response = self.request(client, f"/users/{raw_id}", failures, "PATCH", "application/json", VALID_BIO)
            if response is not None and not refused(response):
                failures.append(f"PATCH /users/{shorten(raw_id)}: status {response.status_code}, expected 4xx")
        for raw_id in ("0", str(max_id + 1), "2147483648"):
            response = self.request(client, f"/users/{raw_id}", failures, "PATCH", "application/json", VALID_BIO)
            if response is not None and response.status_code != 404:
                failures.append(f"PATCH /users/{raw_id}: status {response.status_code}, expected 404")
        self.still_answers(client, failures, "bad edits")
        if changed or conn.execute(seeding.CHECKSUM_SQL).fetchone()[0] != checksum:
            failures.append("the users table changed under edits that should all have been refused")
        verdict.add("edit bad input", failures,
                    f"{len(BAD_EDIT_BODIES)} bad bodies, malformed and missing ids give a 4xx; the table's "
                    "checksum is unchanged")

    # ------------------------------------------------------------- GET /users/{id}/posts

    def check_user_posts(self, conn, client: httpx.Client, verdict: Verdict, max_id: int) -> None:
        """Random users, and the edges: users without posts, the users with the most, the first
        and the last id."""
        ids = self.rng.sample(range(1, max_id + 1), min(VALUE_SAMPLE, max_id))
        ids += [row[0] for row in conn.execute(
            "(SELECT u.id FROM users AS u WHERE NOT EXISTS (SELECT 1 FROM posts WHERE user_id = u.id) LIMIT 3) "
            "UNION ALL (SELECT user_id FROM posts GROUP BY user_id ORDER BY count(*) DESC, user_id LIMIT 3)")]
        ids += [1, max_id]
        rows = self.rows(conn, ids)
        failures: list[str] = []
        paths = [f"/users/{user_id}/posts" for user_id in ids]
        for user_id, path, response in zip(ids, paths, self.request_all(client, paths, failures), strict=True):
            if response is not None:
                self.user_posts_failures(conn, path, response, rows.get(user_id), failures)
        verdict.add("user-posts values", failures,
                    f"{len(ids)} users (random, none or the most posts, the first and last) with their post count "
                    f"and {LATEST_POSTS} latest posts match the database")
        failures = []
        for raw_id in (*MISSING_IDS, str(max_id + 1)):
            self.json_404(client, f"/users/{raw_id}/posts", failures)
        for raw_id in (raw for raw in MALFORMED_IDS if raw):
            response = self.request(client, f"/users/{raw_id}/posts", failures)
            if response is not None and not 400 <= response.status_code < 500:
                failures.append(f"/users/{shorten(raw_id)}/posts: status {response.status_code}, expected 4xx")
        self.still_answers(client, failures, "bad user-posts ids")
        verdict.add("user-posts bad input", failures, f"{len(MISSING_IDS) + 1} missing ids give a JSON 404, "
                                                      f"{len(MALFORMED_IDS) - 1} malformed ones a 4xx")
        self.check_statements(conn, client, verdict, "user-posts",
                              [f"/users/{self.rng.randint(1, max_id)}/posts" for _ in range(STATEMENT_REQUESTS)])

    def user_posts_failures(self, conn, path: str, response: httpx.Response, user: dict | None,
                            failures: list[str]) -> None:
        if response.status_code != 200 or not content_type_ok(response):
            failures.append(f"{path}: status {response.status_code}, {response.headers.get('content-type')!r}")
            return
        body = json_or_none(response)
        if set(body) != {"user", "post_count", "posts"} or not isinstance(body["posts"], list):
            failures.append(f"{path}: keys {sorted(body)}, expected ['post_count', 'posts', 'user']")
            return
        self.same_user(f"{path} user", body["user"], user, failures)
        posts = conn.execute(USER_POSTS, (user["id"] if user else 0,)).fetchall()
        count = posts[0][4] if posts else 0
        if not same_value(body["post_count"], count):
            failures.append(f"{path}: post_count is {body['post_count']!r}, the database has {count}")
        self.same_posts(path, body["posts"], [dict(zip(POST_FIELDS, row[:4], strict=True))
                                              for row in posts[:LATEST_POSTS]], failures)

    def same_posts(self, where: str, got: list, want: list[dict], failures: list[str]) -> None:
        """Posts in order, each with exactly its keys; a feed's with its author too."""
        if len(got) != len(want):
            failures.append(f"{where}: {len(got)} posts, the database has {len(want)}")
            return
        for number, (post, row) in enumerate(zip(got, want, strict=True)):
            keys = set(row)
            if not isinstance(post, dict) or set(post) != keys:
                failures.append(f"{where} post {number}: keys {sorted(post) if isinstance(post, dict) else post!r}, "
                                f"expected {sorted(keys)}")
                return
            expected = expected_json(row)
            for name in sorted(keys):
                if not same_value(post[name], expected[name]):
                    failures.append(f"{where} post {row['id']}: {name} is {shorten(repr(post[name]))}, database has "
                                    f"{shorten(repr(expected[name]))}")

    # ------------------------------------------------------------- GET /posts?before=&limit=

    def check_feed(self, conn, client: httpx.Client, verdict: Verdict, max_id: int) -> None:
        """Random pages, the last ones, limits 1 to 100, the default, and pages where one author
        has several posts (an N:1 whose authors repeat)."""
        newest = conn.execute("SELECT coalesce(max(id), 0) FROM posts").fetchone()[0]
        repeated = conn.execute(
            "SELECT p.id + 1 FROM posts AS p JOIN posts AS q ON q.id = p.id - 1 AND q.user_id = p.user_id "
            "ORDER BY p.id LIMIT 3").fetchall()
        cases = [(self.rng.randint(1, newest + 1), 20) for _ in range(PAGE_SAMPLE)]
        cases += [(1, 20), (2, 20), (21, 20), (newest + 1, 1), (newest + 1, 100), (self.rng.randint(1, newest), 100),
                  (None, None), *[(row[0], 20) for row in repeated]]
        failures: list[str] = []
        paths = [f"/posts?before={before}&limit={limit}" if before is not None else "/posts" for before, limit in cases]
        for (before, limit), path, response in zip(cases, paths, self.request_all(client, paths, failures),
                                                   strict=True):
            want = [{**dict(zip(POST_FIELDS, row[:4], strict=True)),
                     "author": dict(zip(AUTHOR_FIELDS, row[4:], strict=True))}
                    for row in conn.execute(FEED, (before or INT4_MAX, limit or 20))]
            if response is not None:
                self.feed_failures(path, response, want, limit or 20, failures)
        verdict.add("feed values", failures,
                    f"{len(cases)} feed pages (random, the last ones, limits 1 to 100, the default, repeated authors) "
                    "match the database post by post, authors and next_before included")
        self.check_bad_queries(client, verdict, "/posts", BAD_FEED_QUERIES, "feed")
        self.check_statements(conn, client, verdict, "feed",  # full pages: a loader may skip an empty one
                              [f"/posts?before={self.rng.randint(min(21, newest + 1), newest + 1)}&limit=20"
                               for _ in range(STATEMENT_REQUESTS)])

    def feed_failures(self, path: str, response: httpx.Response, want: list[dict], limit: int,
                      failures: list[str]) -> None:
        if response.status_code != 200 or not content_type_ok(response):
            failures.append(f"{path}: status {response.status_code}, {response.headers.get('content-type')!r}")
            return
        body = json_or_none(response)
        if set(body) != {"posts", "next_before"} or not isinstance(body["posts"], list):
            failures.append(f"{path}: keys {sorted(body)}, expected ['next_before', 'posts']")
            return
        flat = [{key: value for key, value in row.items() if key != "author"} for row in want]
        got = [post for post in body["posts"] if isinstance(post, dict)]
        self.same_posts(path, [{k: v for k, v in post.items() if k != "author"} for post in got], flat, failures)
        for post, row in zip(got, want, strict=False):
            if not same_value(post.get("author"), row["author"]):
                failures.append(f"{path} post {row['id']}: author is {shorten(repr(post.get('author')))}, database "
                                f"has {row['author']!r}")
        next_before = want[-1]["id"] if len(want) == limit else None
        if not same_value(body["next_before"], next_before):
            failures.append(f"{path}: next_before is {body['next_before']!r}, expected {next_before!r}")

    # ------------------------------------------------------------- GET /queries?n=

    def check_queries(self, conn, client: httpx.Client, verdict: Verdict, max_id: int) -> None:
        """TechEmpower's clamping of n, and every user answered is its row."""
        failures: list[str] = []
        for query, count in QUERY_COUNTS.items():
            path = f"/queries?{query}" if query else "/queries"
            response = self.request(client, path, failures)
            if response is None:
                continue
            try:
                body = response.json()
            except ValueError:
                body = None
            if response.status_code != 200 or not content_type_ok(response) or not isinstance(body, list):
                failures.append(f"{path}: status {response.status_code}, expected 200 and a JSON array")
                continue
            if len(body) != count:
                failures.append(f"{path}: {len(body)} users, expected {count}")
            ids = [user.get("id") for user in body if isinstance(user, dict)]
            rows = self.rows(conn, [i for i in ids if isinstance(i, int) and 1 <= i <= INT4_MAX])
            for user in body:
                self.same_user(f"{path} user", user, rows.get(user.get("id")) if isinstance(user, dict) else None,
                               failures)
        verdict.add("queries values", failures,
                    f"{len(QUERY_COUNTS)} values of n answered with n clamped to 1..500 (1 where missing or not an "
                    "integer), each user its row")
        self.check_statements(conn, client, verdict, "queries", [f"/queries?n={QUERIES_N}"] * (STATEMENT_REQUESTS // 4))

    # ------------------------------------------------------------- statements per request

    def expected(self, conn, endpoint: str, paths: list[str]) -> dict[str, int]:
        """Lookups and updates the requests must send, in all: by strategy, or as the variant
        promises for a relationship endpoint ("1 + authors": one more per distinct author on
        each feed page, read from the database before the count starts); /queries sends
        QUERIES_N separate lookups each, never one batch."""
        if endpoint == "queries":
            return {"lookup": QUERIES_N * len(paths), "update": 0}
        if endpoint in RELATION_ENDPOINTS:
            promise = self.relations[endpoint]
            if promise == PER_AUTHOR:
                authors = sum(conn.execute(PAGE_AUTHORS, (int(path.split("before=")[1].split("&")[0]),)).fetchone()[0]
                              for path in paths)
                return {"lookup": len(paths) + authors, "update": 0}
            return {"lookup": int(promise) * len(paths), "update": 0}
        return {kind: count * len(paths) for kind, count in EXPECTED_STATEMENTS[endpoint][self.strategy].items()}

    def counted(self) -> tuple[sql.Composable, tuple]:
        """The pg_stat_statements rows that are the cell's: its own role's in this database, or,
        without a role of its own, everything in this database."""
        where = sql.SQL("dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) "
                        "AND query NOT ILIKE '%%pg_stat_statements%%'")
        if self.login is None or self.login.role is None:
            return where, ()
        return where + sql.SQL(" AND userid = (SELECT oid FROM pg_roles WHERE rolname = %s)"), (self.login.role,)

    def reset(self, conn) -> None:
        """Forget the cell's own counts (its role's alone: a neighbour's go on), or every count."""
        if self.login is None or self.login.role is None:
            conn.execute("SELECT pg_stat_statements_reset()")
        else:
            conn.execute("SELECT pg_stat_statements_reset((SELECT oid FROM pg_roles WHERE rolname = %s), 0, 0)",
                         (self.login.role,))

    def settle(self, conn) -> None:
        """Wait for statements sent after the last answer (a pool's reset on release) to be
        counted: until the count holds still for 0.1 s, at most 1 s."""
        previous, deadline = None, time.monotonic() + 1.0
        where, params = self.counted()
        while time.monotonic() < deadline:
            calls = conn.execute(sql.SQL("SELECT coalesce(sum(calls), 0) FROM pg_stat_statements WHERE ") + where,
                                 params).fetchone()[0]
            if calls == previous:
                return
            previous = calls
            time.sleep(0.1)

    def check_statements(self, conn, client: httpx.Client, verdict: Verdict, endpoint: str, paths: list[str],
                         method: str = "GET") -> None:
        """N requests must execute the endpoint's lookups and updates exactly N times each;
        the rest is counted by kind."""
        name = "statements" if endpoint == "by-id" else f"statements ({endpoint})"

        def send_all(chosen: list[str], failures: list[str]) -> list[httpx.Response | None]:
            """GETs, or PATCHes each with a bio never sent before (an ORM writes only what changed)."""
            bodies = [json.dumps({"bio": f"statement count {serial} {self.rng.randrange(10**9)}"}).encode()
                      for serial in range(len(chosen))]
            return self.request_all(client, chosen, failures, method, bodies)

        send_all(paths[:20], [])  # warm-up: prepared statements, caches
        expected = self.expected(conn, endpoint, paths)
        try:
            self.reset(conn)
        except Exception as exc:  # noqa: BLE001 - any failure here means the count is unknown
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            verdict.add(name, [f"pg_stat_statements is not usable here: {reason}"], "")
            return
        failures = []
        for path, response in zip(paths, send_all(paths, failures), strict=True):
            if response is not None and response.status_code != 200:
                failures.append(f"{method} {path}: status {response.status_code}")
        self.settle(conn)
        where, params = self.counted()
        rows = conn.execute(sql.SQL("SELECT query, sum(calls)::bigint FROM pg_stat_statements WHERE ") + where
                            + sql.SQL(" GROUP BY query ORDER BY 2 DESC"), params).fetchall()
        requests = len(paths)
        by_kind: dict[str, int] = {}
        for query, calls in rows:
            kind = classify(query)
            by_kind[kind] = by_kind.get(kind, 0) + calls
            verdict.statements.append({"endpoint": endpoint, "kind": kind, "calls": calls,
                                       "query": " ".join(query.split())[:200]})
        for kind, total in expected.items():
            if by_kind.get(kind, 0) != total:
                failures.append(f"{requests} requests executed {by_kind.get(kind, 0)} {kind} statements, expected "
                                f"{total} ({self.strategy} strategy)")
        for statement in verdict.statements:
            if statement["endpoint"] == endpoint and statement["kind"] == "other":
                failures.append(f"unexpected statement x{statement['calls']}: {statement['query'][:80]}")
        order = ("lookup", "update", "pool reset", "transaction", "session setup", "other")
        figures = {kind: round(by_kind[kind] / requests, 3) for kind in sorted(
            by_kind, key=lambda kind: order.index(kind) if kind in order else len(order))}
        verdict.by_endpoint[endpoint] = figures
        shown = ", ".join(f"{kind} {value:g}" for kind, value in figures.items())
        verdict.add(name, failures, f"per request: {shown}")
