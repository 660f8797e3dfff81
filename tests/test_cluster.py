"""dbbench cluster, end to end on one machine: three hosts as network namespaces, each with
its own sshd, reached through real SSH and real Ansible (tests/netns.py)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import netns
import pytest
from conftest import DBBENCH, REPO, dbbench

WHY_NOT = netns.why_not()
pytestmark = [pytest.mark.skipif(WHY_NOT is not None, reason=f"cluster tests skipped: {WHY_NOT}"),
              pytest.mark.slow]


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


def shared_checkout(hosts, base: Path) -> tuple[Path, dict[str, Path]]:
    """An inventory whose hosts use this checkout (on their shared file system), each with a
    state home of its own under `base`; the inventory's path and the homes."""
    homes = {name: base / name for name in netns.HOSTS}
    inventory = base / "hosts.yml"
    inventory.write_text(hosts.inventory_text(host_vars={
        name: {"dbbench_dir": str(REPO), "dbbench_deploy": "false", "dbbench_home": str(home)}
        for name, home in homes.items()}))
    return inventory, homes


def test_up_starts_the_database_and_the_agents_and_down_leaves_nothing_running(hosts, tmp_path_factory):
    """`cluster up` over real SSH and Ansible (the checkout already on the hosts' shared file
    system): PostgreSQL on the db host for the app host alone, the agents answering the app
    host alone, no secret in the controller's output; `cluster down`: nothing left running."""
    base = tmp_path_factory.mktemp("cluster-homes")
    inventory, homes = shared_checkout(hosts, base)
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


def postgres_seconds_at(samples: list[dict], instant: float) -> float:
    """PostgreSQL's CPU counter in an agent's samples file at an instant, read linearly between samples."""
    after = next(index for index, sample in enumerate(samples) if sample["time"] >= instant)
    low, high = samples[max(after - 1, 0)], samples[after]
    share = 0.0 if high["time"] <= low["time"] else (instant - low["time"]) / (high["time"] - low["time"])
    return low["postgres_s"] + (high["postgres_s"] - low["postgres_s"]) * share


def test_a_cluster_run_measures_each_party_on_its_own_host_and_leaves_nothing_running(hosts, tmp_path_factory):
    """`cluster run` end to end: PostgreSQL sees the cells from the app host's address, each
    slice's PostgreSQL CPU is what the db host's own samples say over the slice, the results
    carry the three hosts and the agents' raw samples, no secret is in them, and nothing is
    left running on any host."""
    base = tmp_path_factory.mktemp("cluster-run")
    inventory, homes = shared_checkout(hosts, base)
    done = cluster(hosts, "run", "-i", str(inventory), "--frameworks", "gin,fastapi", "--variants", "raw",
                   "--quick", "--rounds", "2", "--users", "1000", "--out", str(base / "results"),
                   state_home=base / "controller", timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    for name in netns.HOSTS:
        assert hosts.leftovers(name) == [], f"{name} still runs something after the run"
    run_dir = (base / "results" / "latest").resolve()
    document = json.loads((run_dir / "results.json").read_text())
    meta = document["metadata"]
    assert {host["name"]: host["runs"] for host in meta["hosts"]} == \
        {"db1": ["postgres"], "app1": ["cells"], "load1": ["wrk"]}
    assert meta["run"]["cluster"]["client_addrs"] == {"1": [netns.HOSTS["app1"]]}
    ranked = [cell for cell in document["cells"] if cell["rank"] is not None]
    assert sorted(cell["name"] for cell in ranked) == ["fastapi/raw", "gin/raw"], document["cells"]
    offset = next(host for host in meta["hosts"] if host["name"] == "db1")["offset_from_app_ms"] / 1000
    samples = [json.loads(line) for line in (run_dir / "hosts" / "db1-db-samples.jsonl").read_text().splitlines()]
    assert (run_dir / "hosts" / "load1-load-samples.jsonl").exists()
    for cell in ranked:
        for piece in cell["slices"]:
            cpu, db = piece["cpu_seconds"], piece["hosts"]["db1"]
            assert cpu["server"] > 0 and cpu["wrk"] > 0 and cpu["postgres"] > 0, piece
            from_samples = postgres_seconds_at(samples, db["to"] + offset) - \
                postgres_seconds_at(samples, db["from"] + offset)
            assert abs(from_samples - cpu["postgres"]) < 0.02, (from_samples, piece)
    assert "Hosts**: db1 (198.18.0.11) ran postgres" in (run_dir / "results.md").read_text()
    password = (homes["db1"] / "db-password").read_text().strip()
    kept = [path.read_bytes() for path in run_dir.rglob("*") if path.is_file()]
    assert not any(password.encode() in data for data in kept) and password not in done.stdout + done.stderr


def app_run_has_slices(home: Path) -> bool:
    try:
        found = json.loads((home / "cluster-results" / "latest" / "results.json").read_text())
    except (OSError, ValueError):
        return False
    return any(cell["slices"] for cell in found["cells"])


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGKILL], ids=["ctrl-c", "kill-9"])
def test_a_cluster_run_stopped_mid_run_leaves_nothing_running_on_any_host(hosts, tmp_path_factory, signum):
    """Ctrl-C: the controller stops everything on every host itself and keeps the finished
    slices. kill -9: its ssh dies with it, the run on the app host stops its cells, and
    `cluster down` stops the rest, within 15 s."""
    base = tmp_path_factory.mktemp("cluster-stop")
    inventory, homes = shared_checkout(hosts, base)
    argv = [netns.IP, "netns", "exec", hosts.controller, *DBBENCH, "cluster", "run", "-i", str(inventory),
            "--frameworks", "gin,fastapi", "--variants", "raw", "--quick", "--rounds", "200", "--users", "1000",
            "--out", str(base / "results")]
    env = {**os.environ, "DBBENCH_HOME": str(base / "controller")}
    controller = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True, env=env)
    try:
        deadline = time.monotonic() + 600
        while not app_run_has_slices(homes["app1"]):
            assert controller.poll() is None, controller.communicate()
            assert time.monotonic() < deadline, "the run on the app host measured no slice in 600 s"
            time.sleep(0.5)
        os.kill(controller.pid, signum)
        output, errors = controller.communicate(timeout=180)
    finally:
        if controller.poll() is None:
            controller.kill()
    if signum == signal.SIGINT:
        assert controller.returncode == 130, errors[-2000:]
        kept = json.loads(((base / "results" / "latest").resolve() / "results.json").read_text())
        assert not kept["complete"] and any(cell["slices"] for cell in kept["cells"])
    else:
        down = cluster(hosts, "down", "-i", str(inventory), state_home=base / "controller")
        assert down.returncode == 0, down.stdout + down.stderr
    deadline = time.monotonic() + 15
    while any(hosts.leftovers(name) for name in netns.HOSTS) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert {name: hosts.leftovers(name) for name in netns.HOSTS} == {name: [] for name in netns.HOSTS}
