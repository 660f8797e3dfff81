"""Statements per request, checked: N requests must send their endpoint's lookups and updates
exactly N times each, and nothing their variant does not send; counted in pg_stat_statements
under the cell's own role (runner/db/roles.py), so a neighbour's statements never count."""

from __future__ import annotations

import json
import time

import httpx
from psycopg import sql

from runner.base.scenarios import RELATION_ENDPOINTS
from runner.verify.contract import PAGE_AUTHORS, PER_AUTHOR, QUERIES_N
from runner.verify.statements import EXPECTED_STATEMENTS, classify
from runner.verify.verdict import Verdict


class StatementChecks:
    """The Verifier's count of the statements N requests send, under the cell's own role: each
    lookup and update exactly N times, the rest counted by kind and held to its variant's."""

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
            # the warm-up's statements counted before the count starts: an app that ends its transaction
            # after answering (a session a FastAPI dependency closes once the response is sent) has its
            # last lookups recorded then, which a reset at once left to the count (51 for 50, 6 December 2026)
            self.settle(conn)
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
