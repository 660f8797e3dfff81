"""dbbench cluster, end to end on one machine: three hosts as network namespaces, each with
its own sshd, reached through real SSH and real Ansible (tests/netns.py)."""

from __future__ import annotations

import os
import sys

import netns
import pytest
from conftest import DBBENCH, REPO, dbbench

WHY_NOT = netns.why_not()
pytestmark = pytest.mark.skipif(WHY_NOT is not None, reason=f"cluster tests skipped: {WHY_NOT}")


@pytest.fixture(scope="module")
def hosts(tmp_path_factory):
    with netns.Hosts(tmp_path_factory.mktemp("hosts")) as made:
        yield made


def cluster(hosts, *args: str, state_home=None, timeout: float = 600):
    env = {**os.environ, **({"DBBENCH_HOME": str(state_home)} if state_home else {})}
    return hosts.run([*DBBENCH, "cluster", *args], timeout=timeout, env=env)


def test_check_reaches_every_host_and_reports_what_it_is(hosts, state_home):
    result = cluster(hosts, "check", "-i", str(hosts.inventory), state_home=state_home)
    assert result.returncode == 0, result.stdout + result.stderr
    rows = {line.split()[0]: line for line in result.stdout.splitlines()
            if line.split() and line.split()[0] in netns.HOSTS}
    assert set(rows) == {"db1", "app1", "load1"}
    for name, address in netns.HOSTS.items():
        assert address in rows[name] and " ms (±" in rows[name], rows[name]
        assert f" {os.cpu_count()} " in rows[name], "each host's core count, from its own facts"
    assert "layout: db on db1 (198.18.0.11), app on app1 (198.18.0.12), load on load1 (198.18.0.13)" in result.stdout


def test_an_unreachable_host_is_a_one_line_error_naming_it(hosts, state_home, tmp_path):
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(hosts.inventory_text({**netns.HOSTS, "load1": "198.18.0.14"}))  # nothing answers there
    result = cluster(hosts, "check", "-i", str(inventory), state_home=state_home, timeout=120)
    assert result.returncode != 0
    assert result.stderr.strip().startswith("dbbench: error: check: host load1: unreachable"), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_an_inventory_without_a_role_is_a_one_line_error(tmp_path):
    inventory = tmp_path / "hosts.yml"
    inventory.write_text("all:\n  children:\n    db:\n      hosts:\n        db1:\n"
                         "    app:\n      hosts:\n        app1:\n")
    result = dbbench("cluster", "check", "-i", str(inventory))
    assert result.returncode != 0 and "group 'load' is missing or empty" in result.stderr, result.stderr


CONNECT = "import psycopg, sys; psycopg.connect(sys.argv[1], connect_timeout=5).close()"


def test_a_database_beyond_loopback_admits_the_app_host_with_its_password_and_no_one_else(hosts, tmp_path_factory):
    """`db up --listen --allow` on the db host: scram with a generated password, kept in a file its
    owner alone reads and never printed; pg_hba admits the app host's address alone."""
    home = tmp_path_factory.mktemp("db-host")
    env = {**os.environ, "DBBENCH_HOME": str(home)}
    db, app = netns.HOSTS["db1"], netns.HOSTS["app1"]
    try:
        up = hosts.run_on("db1", [*DBBENCH, "db", "up", "--users", "1000", "--listen", db, "--allow", app], env=env)
        assert up.returncode == 0, up.stderr
        password_file = home / "db-password"
        password = password_file.read_text().strip()
        assert password_file.stat().st_mode & 0o777 == 0o600
        assert password not in up.stdout + up.stderr, "the password is never printed"
        url = up.stdout.strip().splitlines()[-1]
        assert url.startswith(f"postgresql://dbbench@{db}:")
        with_password = url.replace("dbbench@", f"dbbench:{password}@", 1)
        python = [sys.executable, "-c", CONNECT]
        admitted = hosts.run_on("app1", [*python, with_password], timeout=60)
        assert admitted.returncode == 0, admitted.stderr
        without = hosts.run_on("app1", [*python, url], timeout=60)
        assert without.returncode != 0 and "password" in without.stderr
        elsewhere = hosts.run_on("load1", [*python, with_password], timeout=60)
        assert elsewhere.returncode != 0 and "no pg_hba.conf entry" in elsewhere.stderr
    finally:
        hosts.run_on("db1", [*DBBENCH, "db", "down"], env=env)


@pytest.mark.parametrize("args, message", [
    (["--listen", "0.0.0.0", "--allow", "198.18.0.12"], "give the one address"),  # noqa: S104 - refused
    (["--listen", "198.18.0.11"], "--listen needs --allow"),
    (["--listen", "198.18.0.11", "--allow", "0.0.0.0/0"], "every address is too wide"),
    (["--allow", "198.18.0.12"], "--allow goes with --listen"),
])
def test_exposing_the_database_refuses_what_would_open_it_wide(args, message):
    result = dbbench("db", "up", *args)
    assert result.returncode != 0 and message in result.stderr, result.stderr


AGENT_TIME = ("import httpx, sys; response = httpx.post(sys.argv[1], "
              "headers={'Authorization': 'Bearer ' + sys.argv[2]}, timeout=5); print(response.status_code)")


def test_up_starts_the_database_and_the_agents_and_down_leaves_nothing_running(hosts, tmp_path_factory):
    """`cluster up` over real SSH and Ansible (the checkout already on the hosts' shared file
    system): PostgreSQL on the db host for the app host alone, the agents answering the app
    host alone, no secret in the controller's output; `cluster down`: nothing left running."""
    base = tmp_path_factory.mktemp("cluster-homes")
    homes = {name: base / name for name in netns.HOSTS}
    inventory = base / "hosts.yml"
    inventory.write_text(hosts.inventory_text(host_vars={
        name: {"dbbench_dir": str(REPO), "dbbench_deploy": "false", "dbbench_home": str(home)}
        for name, home in homes.items()}))
    controller = base / "controller"
    try:
        up = cluster(hosts, "up", "-i", str(inventory), "--users", "1000", state_home=controller)
        assert up.returncode == 0, up.stdout + up.stderr
        password = (homes["app1"] / "cluster-db-password").read_text().strip()
        token = (homes["app1"] / "agent-token").read_text().strip()
        assert password not in up.stdout + up.stderr and token not in up.stdout + up.stderr
        assert (homes["app1"] / "cluster-db-password").stat().st_mode & 0o777 == 0o600
        url = next(word for word in up.stdout.split() if word.startswith("postgresql://")).rstrip("(")
        admitted = hosts.run_on("app1", [sys.executable, "-c", CONNECT,
                                         url.replace("dbbench@", f"dbbench:{password}@", 1)], timeout=60)
        assert admitted.returncode == 0, admitted.stderr
        db_agent = f"http://{netns.HOSTS['db1']}:7841/time"
        assert hosts.run_on("app1", [sys.executable, "-c", AGENT_TIME, db_agent, token]).stdout.strip() == "200"
        assert hosts.run_on("load1", [sys.executable, "-c", AGENT_TIME, db_agent, token]).stdout.strip() == "403"
        assert hosts.run_on("app1", [sys.executable, "-c", AGENT_TIME, db_agent, "guess"]).stdout.strip() == "401"
    finally:
        down = cluster(hosts, "down", "-i", str(inventory), state_home=controller)
    assert down.returncode == 0, down.stdout + down.stderr
    for name in netns.HOSTS:
        assert hosts.leftovers(name) == [], f"{name} still runs something after down"
    assert not (homes["app1"] / "agent-token").exists() and not (homes["app1"] / "cluster-db-password").exists()
