"""The verification stage: a cell must do exactly what the contract says before it is measured.

For each endpoint its scenario uses: values field by field against PostgreSQL, status
codes for missing and malformed input (runner/verify/bad_inputs.py), headers, and, through
pg_stat_statements, that each request sends exactly the lookups and updates its strategy
makes (EXPECTED_STATEMENTS); everything else it sends is counted by kind. Also the
connections its pool holds. An edit check puts every row it changed back as it was."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import httpx
import psycopg

from runner.base.errors import DbbenchError
from runner.base.scenarios import ENDPOINTS, RELATION_ENDPOINTS
from runner.db import database, roles, seeding
from runner.verify.bad_inputs import (
    BAD_EDIT_BODIES,
    BAD_PAGE_QUERIES,
    EDIT_BIOS,
    LENIENT_IDS,
    MALFORMED_IDS,
    MISSING_IDS,
    MISSING_USERNAMES,
    ODD_USERNAMES,
    QUERY_COUNTS,
    ROUTED_MALFORMED_IDS,
    VALID_BIO,
)
from runner.verify.contract import (
    CONCURRENCY,
    EDIT_SAMPLE,
    FIELDS,
    INT4_MAX,
    PAGE_SAMPLE,
    PUT_BIO_BACK,
    QUERIES_N,
    ROUND_TRIP_SAMPLES,
    ROWS_AFTER,
    ROWS_BY_ID,
    STATEMENT_REQUESTS,
    VALUE_SAMPLE,
)
from runner.verify.relation_checks import RelationChecks
from runner.verify.responses import (
    body_length_ok,
    content_type_ok,
    expected_json,
    json_or_none,
    refused,
    same_value,
    shorten,
)
from runner.verify.statement_checks import StatementChecks
from runner.verify.statements import EXPECTED_STATEMENTS
from runner.verify.verdict import Verdict, weighted

# What a minimal app (apps/minimal/) is held to: the values and the statements of the lookups the
# load sends. A documentation example opens its pool when it likes, and an id that cannot be a row
# or is malformed is the contract's work (the cells answer those without a query), not the load's.
BY_ID_CHECKS = ("values", "missing", "malformed", "statements")
MINIMAL_APP_CHECKS = ("values", "statements")


def verify_running(process, admin_url: str, login: roles.Login, count_pool: bool = True, **checks) -> Verdict:
    """The verdict on one running cell (a cells.CellProcess or RemoteCell): its pool counted on
    its own sockets to the address it connects to, its statements under its own role;
    `checks` as Verifier takes them (endpoints, weights, db_latency_ms). A cell's minimal app is
    held to MINIMAL_APP_CHECKS."""
    db_port = database.port_of(login.url)
    cell = process.cell
    minimal = getattr(process, "minimal", None) is not None
    return Verifier(process.base_url, admin_url, strategy=cell.variant.strategy, relations=cell.variant.relations,
                    expected_connections=process.expected_connections if count_pool and not minimal else None,
                    held_connections=lambda: process.database_connections(db_port), login=login,
                    by_id_checks=MINIMAL_APP_CHECKS if minimal else BY_ID_CHECKS,
                    malformed_status=cell.framework.malformed, **checks).run()


class Verifier(RelationChecks, StatementChecks):
    """Runs every check of the given endpoints against one running cell."""

    def __init__(self, base_url: str, db_url: str, expected_connections: int | None = None,
                 rng_seed: int = 20201123, held_connections: Callable[[], int] | None = None,
                 endpoints: tuple[str, ...] = ("by-id",), strategy: str = "raw",
                 weights: dict[str, float] | None = None, db_latency_ms: int = 0,
                 relations: dict[str, int] | None = None, login: roles.Login | None = None,
                 by_id_checks: tuple[str, ...] = BY_ID_CHECKS, malformed_status: int | None = None):
        """`held_connections` counts the connections the cell itself holds (other cells may be
        up at the same time); without it, every client connection to the database counts.
        `weights` (endpoint: share) make the scenario's statements per request from each
        endpoint's. `db_latency_ms`: the round trip a proxy adds; the lookups must show it.
        `relations`: the lookups per request the variant promises for each relationship endpoint
        (apps/cells.toml), held exactly. `login`: the role the cell connects as, whose statements
        alone are counted and reset (runner/db/roles.py); without one, every statement sent to this
        database in the counting window counts, a neighbour's too. `by_id_checks`: which of
        BY_ID_CHECKS GET /users/{id} is held to. `malformed_status`: the framework's own answer to a
        malformed id (apps/cells.toml), which the malformed ids with nothing to decode must get;
        without it, any 4xx."""
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
        self.by_id_checks = by_id_checks
        self.malformed_status = malformed_status

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

    def refuses_malformed(self, response: httpx.Response | None, raw_id: str, where: str,
                          failures: list[str]) -> None:
        """A malformed id's answer: a 4xx (refused()); the framework's own status where the id
        reaches its router as it is and that status is known. `where` names the request."""
        if response is None:
            return
        if not refused(response):
            failures.append(f"{where}: status {response.status_code}, expected 4xx")
        elif (self.malformed_status is not None and raw_id in ROUTED_MALFORMED_IDS
              and response.status_code != self.malformed_status):
            failures.append(f"{where}: status {response.status_code}, expected the framework's "
                            f"{self.malformed_status}")

    def own_status_text(self) -> str:
        """The framework's own status in a verdict's line, where it was held to it."""
        if self.malformed_status is None:
            return ""
        routed = len(ROUTED_MALFORMED_IDS)
        return f" ({self.malformed_status}, the framework's own, for the {routed} with nothing to decode)"

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
        if "values" in self.by_id_checks:
            self.check_values(conn, client, verdict, max_id)
        if "missing" in self.by_id_checks:
            self.check_missing(client, verdict, max_id)
        if "malformed" in self.by_id_checks:
            self.check_malformed(client, verdict)
        if "statements" in self.by_id_checks:
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
            self.refuses_malformed(self.request(client, f"/users/{raw_id}", failures), raw_id,
                                   f"/users/{shorten(raw_id)}", failures)
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
            f"{len(MALFORMED_IDS)} malformed ids give a 4xx{self.own_status_text()}, server still up; lenient "
            "spellings answered "
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
            self.refuses_malformed(response, raw_id, f"PATCH /users/{shorten(raw_id)}", failures)
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
