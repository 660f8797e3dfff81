"""The 2026 stacks (#24): psycopg 3 as a driver, set and recorded on purpose."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import pytest
from conftest import REPO, normalized_pins

from runner.base.errors import DbbenchError
from runner.cells import environments
from runner.cells.catalog import manifest
from runner.db import database

PROBE = Path(__file__).with_name("psycopg_prepare_probe.py")
RUNS = 20
# Planning tracked, and every plan generic: an unprepared statement is planned at each run,
# a prepared one once per connection. So the plans PostgreSQL counts tell the two apart.
PLANNING_SEEN = "options=-c%20pg_stat_statements.track_planning%3Don%20-c%20plan_cache_mode%3Dforce_generic_plan"


def plans_of_lookups(db_url: str, variant: str, threshold: int | None) -> tuple[int, int]:
    """(calls, plans) of the id lookups RUNS requests' worth of a variant sent, at this threshold."""
    with database.connect(db_url) as conn:
        conn.execute("SELECT pg_stat_statements_reset()")
    python = environments.ensure("sa2")
    separator = "&" if "?" in db_url else "?"
    result = subprocess.run(
        [str(python), str(PROBE), variant, "none" if threshold is None else str(threshold), str(RUNS)],
        cwd=REPO, capture_output=True, text=True, timeout=120,
        env={**os.environ, "DATABASE_URL": db_url + separator + PLANNING_SEEN, "PYTHONPATH": str(REPO)})
    assert result.returncode == 0, result.stderr
    with database.connect(db_url) as conn:
        calls, plans = conn.execute(
            "SELECT COALESCE(SUM(calls), 0), COALESCE(SUM(plans), 0) FROM pg_stat_statements "
            "WHERE query ILIKE '%FROM users%' AND query NOT ILIKE '%pg_stat_statements%'").fetchone()
    return int(calls), int(plans)


def test_psycopg_runs_a_statement_unprepared_until_its_declared_threshold(db_url):
    declared = manifest().variants["raw-psycopg"].settings["prepare_threshold"]
    assert plans_of_lookups(db_url, "raw-psycopg", declared) == (RUNS, declared + 1), \
        "the first runs at the declared threshold are unprepared (planned each time), then one prepared plan"
    assert plans_of_lookups(db_url, "raw-psycopg", 0) == (RUNS, 1), "threshold 0: prepared from the first run"
    assert plans_of_lookups(db_url, "raw-psycopg", None) == (RUNS, RUNS), "no threshold: never prepared"


@pytest.mark.parametrize("variant", ["sa-orm-psycopg", "sa-core-psycopg"])
def test_under_sqlalchemys_pool_psycopg_never_keeps_a_prepared_statement(db_url, variant):
    """SQLAlchemy's pool rolls a connection back when it is returned, and psycopg forgets its
    prepared statements and its counts at every rollback: the threshold is never reached, so
    every lookup is planned, whatever the setting. Part of the driver's price, shown here."""
    declared = manifest().variants[variant].settings["prepare_threshold"]
    assert plans_of_lookups(db_url, variant, declared) == (RUNS, RUNS)
    assert plans_of_lookups(db_url, variant, 0) == (RUNS, RUNS), "prepared at each checkout, forgotten at each return"


def test_every_psycopg_cell_declares_its_threshold_but_django_s():
    """A psycopg cell without one would run at the library's default without saying so. Django
    binds parameters client-side (psycopg's ClientCursor), which psycopg never prepares: a
    threshold there would be recorded and do nothing."""
    for cell in manifest().cells():
        if cell.stack == "django":
            assert "prepare_threshold" not in cell.settings, cell.name
        elif "psycopg" in cell.variant.name or cell.stack == "sync":
            assert isinstance(cell.settings.get("prepare_threshold"), int), cell.name


def test_every_gunicorn_cell_takes_more_open_connections_than_the_lessons_send():
    """gunicorn's default worker_connections (1,000) would stall a gthread worker at the 1,024
    connections of "What asyncio buys"; the cells set it on purpose, and it is recorded."""
    from runner.lessons import what_asyncio_buys

    most = max(value for part in what_asyncio_buys.ASYNCIO_SWEEPS if part.param == "connections"
               for value in part.values)
    for cell in manifest().cells():
        if "gunicorn" in cell.framework.server:
            assert cell.settings.get("worker_connections", 0) > most, cell.name


def test_the_contract_table_gives_every_framework_its_malformed_id_status():
    """schema/http-contract.md's table of malformed-id answers covers every framework, Django's
    and MicroPie's included, with the status cells.toml holds the verifier to."""
    table = {}
    for line in (REPO / "schema" / "http-contract.md").read_text().splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.lstrip().startswith("|") and len(cells) == 3 and cells[1].isdigit():
            table[cells[0].lower()] = int(cells[1])
    for framework in manifest().frameworks.values():
        assert table.get(framework.name) == framework.malformed, framework.name


@pytest.mark.parametrize("stack, package", [("django", "Django"), ("sa2", "tortoise-orm"), ("sa2", "piccolo"),
                                            ("sa2", "sqlmodel"), ("gino", "granian")])
def test_a_stacks_lock_installs_into_its_own_environment_and_its_versions_are_recorded(stack, package):
    from runner.measure import metadata

    pinned = normalized_pins(environments.lock_file(stack))  # uv writes names as PyPI compares them: django
    environments.ensure(stack)
    assert environments.python_of(stack).parent.parent == environments.env_dir(stack)
    recorded = metadata.collect_stacks({stack})[stack]["packages"]
    assert recorded[package] == pinned[package.lower()], "the results record the version the lock pins"


def test_a_runner_environment_without_uv_gets_a_one_line_error_before_any_build(tmp_path, monkeypatch):
    monkeypatch.setenv("DBBENCH_VENVS", str(tmp_path))
    monkeypatch.setitem(sys.modules, "uv", None)  # what an import finds when the package is absent
    with pytest.raises(DbbenchError, match=r"uv is missing .*make setup"):
        environments.build("sa2")
    assert not any(tmp_path.iterdir()), "nothing was created or removed before the error"


def test_an_environment_build_dies_with_the_command_that_started_it(tmp_path):
    """A first run builds environments beside its seed: a command killed outright (SIGKILL,
    so no handler of its own runs) leaves no installer behind."""
    pid_file = tmp_path / "installer.pid"
    fake_uv = tmp_path / "uv"
    fake_uv.write_text(f"#!/bin/sh\necho $$ > {pid_file}\nexec sleep 60\n")
    fake_uv.chmod(0o755)
    script = (f"from runner.cells import environments\nenvironments.installer = lambda: {str(fake_uv)!r}\n"
              "environments.ensure('sa2')\n")
    command = subprocess.Popen([sys.executable, "-c", script], cwd=REPO, stderr=subprocess.DEVNULL,
                               env={**os.environ, "DBBENCH_VENVS": str(tmp_path / "venvs")})
    deadline = time.monotonic() + 60
    while not (pid_file.exists() and pid_file.read_text().strip()):
        assert command.poll() is None and time.monotonic() < deadline, "the build never reached its installer"
        time.sleep(0.1)
    installer = int(pid_file.read_text())
    command.kill()
    command.wait()
    deadline = time.monotonic() + 10
    while _running(installer):
        assert time.monotonic() < deadline, "the installer outlived the command that started it"
        time.sleep(0.1)


def _running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_two_commands_that_need_one_missing_environment_build_it_once(tmp_path, monkeypatch):
    """Commands on two state homes share .venvs/: the second waits for the first's build, then
    uses it, rather than building over it."""
    monkeypatch.setenv("DBBENCH_VENVS", str(tmp_path))
    builds = []

    def slow_build(stack: str) -> None:
        builds.append(stack)
        time.sleep(0.5)
        environments.env_dir(stack).mkdir(parents=True)
        (environments.env_dir(stack) / environments.READY_MARKER).write_text(environments.lock_digest(stack))

    monkeypatch.setattr(environments, "build", slow_build)
    with ThreadPoolExecutor(2) as pool:
        pythons = list(pool.map(environments.ensure, ["sa2", "sa2"]))
    assert builds == ["sa2"], "the second command built the environment again"
    assert pythons == [environments.python_of("sa2")] * 2
