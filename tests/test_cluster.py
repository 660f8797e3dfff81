"""dbbench cluster, end to end on one machine: three hosts as network namespaces, each with
its own sshd, reached through real SSH and real Ansible (tests/netns.py)."""

from __future__ import annotations

import os

import netns
import pytest
from conftest import DBBENCH, dbbench

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
