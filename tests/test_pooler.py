"""PgBouncer in transaction mode between the cells and PostgreSQL (--pooler pgbouncer).

No figure is asserted: what is checked is that the pooler is in the path, that every cell
behind it gives the same answers and statement counts, that each runs with the settings
apps/cells.toml declares for it there, and that nothing of it outlives the run.
"""

from __future__ import annotations

import signal
import tempfile
import time
from pathlib import Path

import httpx
import psutil
import pytest
from conftest import dbbench
from test_faults import assert_all_gone, ports_of, signal_a_run_after_a_slice, wait_until

from runner.cells import lifecycle
from runner.cells.catalog import Cell, Framework, Variant, manifest
from runner.db import pooler, roles
from runner.report import results, stats, tables
from runner.verify import verifier

CELLS = ("fastapi/raw", "fastapi/sa-orm", "fastapi/raw-psycopg", "flask/raw", "django/django-orm", "gin/raw")


def pgbouncer_processes() -> set[int]:
    return {p.pid for p in psutil.process_iter(["cmdline"])
            if any(part.endswith("pgbouncer") for part in (p.info["cmdline"] or [])[:1])}


@pytest.fixture(scope="module")
def pooled_run(db_url, tmp_path_factory):
    """Six cells on five drivers' settings (asyncpg, SQLAlchemy's asyncpg dialect, psycopg, Django on
    psycopg, pgx) and one that cannot run there (GINO's baked queries), behind PgBouncer across a
    1 ms network: toxiproxy, then PgBouncer, then PostgreSQL."""
    before = pgbouncer_processes()
    out = tmp_path_factory.mktemp("pooled")
    result = dbbench("run", "--pooler", "pgbouncer", "--db-latency", "1", "--pool-size", "rule",
                     "--frameworks", "fastapi,flask,django,gin",
                     "--variants", "raw,sa-orm,raw-psycopg,django-orm,gino-baked",
                     "--slice", "1", "--rounds", "2", "--connections", "8", "--out", str(out), timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    assert pgbouncer_processes() <= before, "the run left its PgBouncer running"
    document = results.load(out / "latest")
    document["pgbouncer_log"] = (out / "latest" / "logs" / "pgbouncer.log").read_text()
    return document


def test_every_cell_behind_the_pooler_is_verified_with_its_declared_settings(pooled_run):
    run = pooled_run["metadata"]["run"]
    assert run["pooler"]["tool"] == "pgbouncer" and run["pooler"]["pool_mode"] == "transaction"
    assert run["pooler"]["version"].startswith("1.")
    cells = {cell["name"]: cell for cell in pooled_run["cells"]}
    assert set(cells) == {*CELLS, "fastapi/gino-baked"}
    for name in CELLS:
        cell = cells[name]
        assert cell["status"] == "ok", (name, cell["reason"])
        # Each cell's own role logged in through PgBouncer: its traffic took the pooler's path.
        assert f"user={roles.name_for(name)}" in pooled_run["pgbouncer_log"], name
        checks = {check["name"]: check for check in cell["verification"]["checks"]}
        assert all(check["ok"] for check in checks.values()), (name, checks)
        # The pool check counted the cell's connections to the proxy's port: they all go through the path.
        assert checks["pool"]["ok"] and cell["verification"]["round_trip_ms"] >= 1
        assert cell["statements_per_request"]["lookup"] == 1
    asyncpg_dialect = {"statement_cache_size": 0, "prepared_statement_cache_size": 0, "unique_statement_names": True}
    assert {name: cells[name]["settings"] for name in CELLS} == {
        "fastapi/raw": {"statement_cache_size": 0},
        "fastapi/sa-orm": asyncpg_dialect,
        "fastapi/raw-psycopg": {"prepare_threshold": "never"},
        "flask/raw": {"prepare_threshold": "never", "worker_connections": 4096},  # flask's own, in place of raw's
        "django/django-orm": {"disable_server_side_cursors": True},  # its client-side binding prepares nothing
        "gin/raw": {"query_exec_mode": "exec"},
    }
    baked = cells["fastapi/gino-baked"]
    assert baked["status"] == "skipped" and baked["reason"].startswith("not run behind pgbouncer: its baked queries")


def test_the_pooler_and_the_proxy_are_one_party_named_for_both(pooled_run):
    for cell in pooled_run["cells"]:
        if cell["status"] == "ok":
            assert cell["cpu_us_per_request"]["proxy"] > 0
    assert stats.between_title(pooled_run["metadata"]["run"]) == "toxiproxy + PgBouncer"
    assert "toxiproxy + PgBouncer µs/request" in tables.render_markdown(pooled_run)


@pytest.mark.parametrize("signum, code", [(signal.SIGTERM, 143), (signal.SIGKILL, -9)])
def test_pgbouncer_goes_with_its_run_whatever_signal_ends_it(db_url, tmp_path, signum, code):
    """SIGTERM stops it and removes its configuration; SIGKILL leaves no time to tidy: the
    parent-death signal takes PgBouncer down, and the next pooler removes the abandoned directory."""
    path = tmp_path / "latest" / "results.json"
    before = pgbouncer_processes()

    def one_pgbouncer_of_its_own(started) -> None:
        bouncers = pgbouncer_processes() - before
        assert len(bouncers) == 1 and bouncers <= {p.pid for p in started}

    cli, started = signal_a_run_after_a_slice(
        ["run", "--pooler", "pgbouncer", "--pool-size", "rule", "--frameworks", "fastapi", "--variants", "raw",
         "--slice", "2", "--rounds", "20", "--connections", "4", "--out", str(tmp_path)], path, signum, code,
        one_pgbouncer_of_its_own)
    assert_all_gone(started, ports_of(started))
    assert pgbouncer_processes() <= before
    left = [d for d in Path(tempfile.gettempdir()).glob(f"{pooler.PREFIX}*")
            if (d / "owner").exists() and int((d / "owner").read_text()) == cli.pid]
    if signum == signal.SIGTERM:
        assert not left, "a run that could tidy removed its PgBouncer's configuration"
        return
    assert left, "its directory stays until the next pooler starts"
    pooler.remove_abandoned()
    assert not any(d.exists() for d in left)


def test_a_cell_that_keeps_named_statements_behind_the_pooler_fails_verification_in_one_line(db_url, tmp_path):
    """fastapi/raw with asyncpg's statement cache on (its default): behind a transaction pooler a
    statement prepared by name on one server connection is missing on the next. The verdict says
    so in one line, within the verifier's own bounds: no hang."""
    cell = manifest().cell("fastapi", "raw")
    bouncer = pooler.PgBouncer.start(db_url, [roles.name_for("pooler-test fastapi/raw")], 8, 16,
                                     tmp_path / "pgbouncer.log")
    process = lifecycle.CellProcess.on_free_port(cell, workers=1, pool_size=4, log_path=tmp_path / "cell.log",
                                                 settings={})
    try:
        login = roles.login_for(db_url, bouncer.url_for(db_url), "pooler-test fastapi/raw")
        process.start(login.url)
        process.wait_ready()
        began = time.monotonic()
        verdict = verifier.verify_running(process, db_url, login, endpoints=("by-id",))
        assert time.monotonic() - began < 120
    finally:
        process.stop()
        bouncer.stop()
    assert not verdict.ok and "\n" not in verdict.first_failure
    assert "prepared statement" in process.last_error() and "\n" not in process.last_error()
    assert not bouncer.directory.exists()


def test_the_pooler_settings_replace_or_refuse_as_declared():
    framework = Framework("f", "python-async", "s", ("v",), 404, settings={"prepare_threshold": 5})
    plain = Variant("v", "raw", "s", settings={"a": 1}, pooler={"statement_cache_size": 0})
    assert Cell(framework, plain).settings_for(None) == {"a": 1, "prepare_threshold": 5}
    assert Cell(framework, plain).settings_for("pgbouncer") == {"a": 1, "prepare_threshold": 5,
                                                                "statement_cache_size": 0}
    own = Framework("g", "python-sync", "s", ("v",), 404, pooler={"prepare_threshold": "never"})
    assert Cell(own, plain).settings_for("pgbouncer") == {"a": 1, "prepare_threshold": "never"}
    refusing = Variant("v", "raw", "s", pooler="its statements are prepared by name")
    assert Cell(framework, refusing).settings_for("pgbouncer") == "its statements are prepared by name"
    assert Cell(own, refusing).settings_for("pgbouncer") == "its statements are prepared by name", \
        "a variant that cannot run there cannot, whatever its framework declares"
    silent = Variant("v", "raw", "s")
    assert "declares no settings" in Cell(framework, silent).settings_for("pgbouncer")
    # Every declared cell says one or the other: settings to run with, or why not.
    for declared in manifest().cells():
        assert not str(declared.settings_for("pgbouncer")).startswith(f"{declared.name} declares no settings"), \
            declared.name


def test_pgbouncer_configuration_is_loopback_transaction_mode_and_describes_no_credentials():
    text = pooler.config_text("127.0.0.1:5432", 6000, "scram-sha-256", Path("/x/users.txt"), 16, 100)
    assert "listen_addr = 127.0.0.1" in text and "pool_mode = transaction" in text
    assert "server_check_query =\n" in text, "a check query would count as a cell's statement"
    assert pooler.users_text({'we"ird': "p\"w", "plain": ""}) == '"plain" ""\n"we""ird" "p""w"\n'
    assert "max_prepared_statements" not in text, "1.18 knows no such setting"
    newer = pooler.config_text("127.0.0.1:5432", 6000, "trust", Path("/x/users.txt"), 16, 100, version="1.24.1")
    assert "max_prepared_statements = 0" in newer, "a PgBouncer that could keep prepared statements keeps none"
    bouncer = pooler.PgBouncer(process=None, port=1, version="1.18.0", pool_size=4, directory=Path("/nonexistent"),
                               admin_url="postgresql://u:s3cret@127.0.0.1:1/pgbouncer", database="dbbench")
    assert bouncer.describe() == {"tool": "pgbouncer", "version": "1.18.0", "pool_mode": "transaction",
                                  "server_pool_per_role": 4}
    assert "s3cret" not in repr(bouncer)


def test_a_bad_pooler_is_one_line():
    result = dbbench("run", "--pooler", "odyssey")
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "--pooler" in result.stderr and "Traceback" not in result.stderr


def test_the_cell_answers_through_pgbouncer(db_url, tmp_path):
    """The simplest path: PgBouncer alone, no proxy; one lookup answered as the database holds it."""
    cell = manifest().cell("fastapi", "raw-psycopg")
    bouncer = pooler.PgBouncer.start(db_url, [], 4, 8, tmp_path / "pgbouncer.log")
    process = lifecycle.CellProcess.on_free_port(cell, workers=1, pool_size=2, log_path=tmp_path / "cell.log",
                                                 settings=cell.settings_for("pgbouncer"))
    try:
        process.start(bouncer.url_for(db_url))
        process.wait_ready()
        assert httpx.get(f"{process.base_url}/users/1", timeout=10).json()["id"] == 1
        assert any(c.raddr and c.raddr.port == bouncer.port for p in process.processes()
                   for c in p.net_connections("tcp"))
    finally:
        process.stop()
        bouncer.stop()


def test_a_groups_server_connections_go_when_it_ends(db_url, tmp_path):
    """PgBouncer keeps idle server connections for minutes; the run closes them as a group ends,
    so that the next group finds room in PostgreSQL's max_connections."""
    import psycopg

    role = roles.name_for("pooler-test release")
    bouncer = pooler.PgBouncer.start(db_url, [role], 4, 8, tmp_path / "pgbouncer.log")
    try:
        login = roles.login_for(db_url, bouncer.url_for(db_url), "pooler-test release")
        with psycopg.connect(login.url, autocommit=True) as conn:
            conn.execute("SELECT 1")

        def server_connections() -> int:
            with psycopg.connect(db_url) as admin:
                return admin.execute("SELECT count(*) FROM pg_stat_activity WHERE usename = %s", (role,)).fetchone()[0]

        assert server_connections() == 1, "the client is gone; PgBouncer keeps its server connection"
        bouncer.release_server_connections()
        wait_until(lambda: server_connections() == 0, 10, "the server connection to close", None)
        with psycopg.connect(login.url, autocommit=True) as conn:  # and new clients are let in again
            assert conn.execute("SELECT 2").fetchone() == (2,)
    finally:
        bouncer.stop()
