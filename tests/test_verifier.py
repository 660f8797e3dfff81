"""The verifier itself: a correct toy app passes, and each defect fails its matching check.

A check that cannot fail would pass a broken app; these tests are what catch that.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psycopg
import pytest

from runner.base import ports
from runner.db import roles, seeding
from runner.verify.statements import classify
from runner.verify.verdict import Verdict
from runner.verify.verifier import ENDPOINTS, Verifier

TOY = Path(__file__).with_name("toyapp.py")


def start_toy(db_url: str, mode: str):
    port = ports.free_port()
    process = subprocess.Popen([sys.executable, str(TOY), str(port), mode], env={"DATABASE_URL": db_url,
                               "PATH": "/usr/bin:/bin"})
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/users/1", timeout=1)
            return process, f"http://127.0.0.1:{port}"
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise AssertionError("toy app did not start")


TOY_RELATIONS = {"user-posts": 2, "feed": 1}  # what the toy promises: the user, then its posts; one JOIN


def verdict_for(db_url: str, mode: str, endpoints: tuple[str, ...] = ("by-id",), db_latency_ms: int = 0,
                malformed_status: int | None = None):
    process, base_url = start_toy(db_url, mode)
    try:
        return Verifier(base_url, db_url, endpoints=endpoints, db_latency_ms=db_latency_ms,
                        relations=TOY_RELATIONS, malformed_status=malformed_status).run()
    finally:
        process.terminate()
        process.wait(10)


def failed_checks(verdict) -> set[str]:
    return {check.name for check in verdict.checks if not check.ok}


def test_the_correct_toy_app_passes(db_url):
    verdict = verdict_for(db_url, "correct")
    assert verdict.ok, verdict.first_failure
    assert verdict.statements_per_request == {"lookup": 1.0}


@pytest.mark.parametrize("mode, check", [
    ("wrong-field", "values"),
    ("text-content-type", "values"),
    ("extra-lookup", "statements"),
    ("extra-statement", "statements"),
    ("error-on-malformed", "malformed"),
    ("found-for-missing", "missing"),
])
def test_each_defect_fails_its_check(db_url, mode, check):
    verdict = verdict_for(db_url, mode)
    assert not verdict.ok
    assert check in failed_checks(verdict), verdict.first_failure


def test_the_correct_toy_app_passes_every_endpoint_and_leaves_the_table_as_it_was(db_url):
    checksum = seeding.table_checksum(db_url)
    verdict = verdict_for(db_url, "correct", ENDPOINTS, malformed_status=400)
    assert verdict.ok, verdict.first_failure
    assert verdict.by_endpoint["edit"] == {"update": 1.0}
    assert verdict.by_endpoint["page"] == {"lookup": 1.0}
    assert verdict.by_endpoint["user-posts"] == {"lookup": 2.0}
    assert verdict.by_endpoint["feed"] == {"lookup": 1.0}
    assert verdict.by_endpoint["queries"] == {"lookup": 20.0}
    assert seeding.table_checksum(db_url) == checksum


def test_a_malformed_id_answered_with_another_4xx_than_the_frameworks_own_fails_where_it_is_routed(db_url):
    """The toy answers a malformed id 400, its handler's int(); held to a declared 404 (a typed
    route that does not match), by id, the edit and the user's posts each fail."""
    verdict = verdict_for(db_url, "correct", ("by-id", "edit", "user-posts"), malformed_status=404)
    assert {"malformed", "edit bad input", "user-posts bad input"} <= failed_checks(verdict)
    assert "expected the framework's 404" in verdict.first_failure


@pytest.mark.parametrize("mode, endpoint, check", [
    ("page-off-by-one", "page", "page values"),
    ("page-error-on-bad-limit", "page", "page bad input"),
    ("username-wrong-user", "by-username", "by-username values"),
    ("edit-writes-before-checking", "edit", "edit bad input"),
    ("edit-extra-lookup", "edit", "statements (edit)"),
    ("edit-forgets-to-write", "edit", "edit values"),
    ("feed-wrong-author", "feed", "feed values"),
    ("feed-lazy-authors", "feed", "statements (feed)"),
    ("queries-batched", "queries", "statements (queries)"),
    ("user-posts-oldest-first", "user-posts", "user-posts values"),
])
def test_each_defect_of_the_new_endpoints_fails_its_check(db_url, mode, endpoint, check):
    checksum = seeding.table_checksum(db_url)
    verdict = verdict_for(db_url, mode, (endpoint,))
    assert check in failed_checks(verdict), verdict.first_failure
    assert seeding.table_checksum(db_url) == checksum, "the verifier must put back what a bad app changed"


def test_statement_kinds():
    assert classify('SELECT users.id, users.username FROM users WHERE users.id = $1') == "lookup"
    assert classify("SELECT id FROM public.users WHERE id = $1") == "lookup"
    assert classify("SELECT pg_advisory_unlock_all()") == "pool reset"
    assert classify("CLOSE ALL") == "pool reset"
    assert classify("UNLISTEN *") == "pool reset"
    assert classify("RESET ALL") == "pool reset"
    assert classify("BEGIN") == "transaction"
    assert classify("ROLLBACK") == "transaction"
    assert classify('UPDATE "users" SET "bio"=$1 WHERE "id" = $2') == "update"
    assert classify("UPDATE users SET bio=$1 WHERE users.id = $2 RETURNING users.bio") == "update"
    assert classify("UPDATE orders SET x = 1") == "other"
    assert classify("SELECT now()") == "other"
    assert classify("SELECT count(*) FROM orders") == "other"


def test_a_cell_that_does_not_go_through_the_proxy_fails_the_round_trip_check(db_url):
    """The toy app talks to PostgreSQL directly: told that 200 ms are added per round trip, the
    verifier finds its lookups far quicker than that and fails the cell."""
    verdict = verdict_for(db_url, "correct", db_latency_ms=200)
    assert failed_checks(verdict) == {"db round trip"}
    assert "does not go through it" in verdict.first_failure and verdict.round_trip_ms < 200


def test_a_pool_short_of_its_size_says_what_postgresql_counts_beside_the_cells_sockets(db_url):
    """A cell's count comes from its sockets; when it is short, PostgreSQL's own count tells a
    connection that was closed from one the sockets' count missed."""
    verdict = Verdict()
    verifier = Verifier("http://127.0.0.1:1", db_url, expected_connections=0, held_connections=lambda: 1)
    with psycopg.connect(db_url, autocommit=True) as conn, psycopg.connect(db_url) as other:
        other.execute("SELECT 1")
        verifier.check_pool(conn, verdict)
    detail = verdict.first_failure
    assert detail.startswith("pool: 1 database connections open after start-up, expected 0 "
                             "(counted on the cell's sockets")
    counted = int(detail.split("PostgreSQL counts ")[1].split()[0])
    assert counted >= 1


def test_two_cells_verified_at_once_each_count_only_their_own_statements(db_url):
    """Issue 49: a neighbour's statements (here a toy that sends an extra one with every lookup,
    and the run's own role hammering psycopg's type introspection) are never counted against a
    cell; each cell logs in as a role of its own and its verdict says so."""
    logins = {mode: roles.login_for(db_url, db_url, f"test-neighbours {mode}")
              for mode in ("correct", "extra-statement")}
    assert all(login.role and login.role.startswith(roles.PREFIX) for login in logins.values())
    assert logins["correct"].role != logins["extra-statement"].role
    started = {mode: start_toy(login.url, mode) for mode, login in logins.items()}
    stop = threading.Event()

    def introspect() -> None:  # as a psycopg cell opening its pool would, all the while
        with psycopg.connect(db_url, autocommit=True) as conn:
            while not stop.is_set():
                conn.execute("SELECT typname AS name, oid, typarray AS array_oid FROM pg_type WHERE typname = %s",
                             ("int4",))

    try:
        neighbour = threading.Thread(target=introspect)
        neighbour.start()
        with ThreadPoolExecutor(2) as pool:
            verdicts = dict(zip(started, pool.map(
                lambda mode: Verifier(started[mode][1], db_url, relations=TOY_RELATIONS, login=logins[mode]).run(),
                started), strict=True))
    finally:
        stop.set()
        neighbour.join(10)
        for process, _ in started.values():
            process.terminate()
            process.wait(10)
    correct, extra = verdicts["correct"], verdicts["extra-statement"]
    assert correct.ok, correct.first_failure
    assert correct.statements_per_request == {"lookup": 1.0}, "nothing of the neighbours' is counted"
    assert correct.statements_counted == f"role {logins['correct'].role} alone"
    assert failed_checks(extra) == {"statements"} and "SELECT now()" in extra.first_failure
    assert "typname" not in extra.first_failure, "the introspection was the run's role's, not this cell's"


def test_without_a_role_of_its_own_the_count_is_the_whole_database_and_says_so(db_url):
    """What an external database whose user may not create roles gets: today's count, labelled."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("DROP ROLE IF EXISTS dbbench_test_no_createrole")
        conn.execute("CREATE ROLE dbbench_test_no_createrole LOGIN IN ROLE dbbench")  # pg_hba: +dbbench
    try:
        login = roles.login_for(roles.as_user(db_url, "dbbench_test_no_createrole"), db_url, "test-no-role")
        assert login.role is None and login.url == db_url
        assert login.counted_for.startswith("the whole database (no role of its own: permission denied")
    finally:
        with psycopg.connect(db_url, autocommit=True) as conn:
            conn.execute("DROP ROLE dbbench_test_no_createrole")


def test_a_role_name_is_readable_distinct_and_within_postgresql_s_limit():
    long = "fastapi/sa-orm-psycopg @pool-size=" + "9" * 80
    assert roles.name_for("fastapi/sa-orm @pool-size=4").startswith("dbbench_cell_fastapi_sa_orm_pool_size_4_")
    assert len(roles.name_for(long)) <= 63 and roles.name_for(long) != roles.name_for(long + "0")
    assert roles.as_user("postgresql://dbbench:s%40cret@198.18.0.1:5432/dbbench?sslmode=disable", "x") == \
        "postgresql://x:s%40cret@198.18.0.1:5432/dbbench?sslmode=disable"
