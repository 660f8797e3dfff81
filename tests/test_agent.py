"""The cluster agent (runner/cluster/agent.py) on loopback: its token, its clock, its CPU
windows from its own samples, and its lease."""

from __future__ import annotations

import subprocess
import sys
import time

import httpx
import pytest
from conftest import REPO

from runner.base import ports
from runner.base.errors import DbbenchError
from runner.db import database


@pytest.fixture
def agent(tmp_path, db_url, state_home):
    token = tmp_path / "token"
    token.write_text(TEST_TOKEN + "\n")
    token.chmod(0o600)
    port = ports.free_port()
    samples = tmp_path / "db1.jsonl"
    process = subprocess.Popen(
        [sys.executable, "-m", "runner.cluster.agent", "--role", "db", "--listen", "127.0.0.1", "--port", str(port),
         "--token-file", str(token), "--allow", "127.0.0.1", "--lease", "3", "--samples", str(samples)],
        cwd=REPO, env={"DBBENCH_HOME": str(state_home), "PATH": "/usr/bin:/bin"})
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        try:
            httpx.post(f"{url}/time", timeout=1)
            break
        except httpx.HTTPError:
            assert time.monotonic() < deadline, "the agent did not answer"
            time.sleep(0.1)
    yield url, process, samples
    process.kill()
    process.wait()


TEST_TOKEN = "a-token-for-this-test"  # noqa: S105 - made for this test's agent alone


def call(url: str, path: str, body: dict | None = None, bearer: str = TEST_TOKEN) -> httpx.Response:
    return httpx.post(f"{url}{path}", json=body or {}, headers={"Authorization": f"Bearer {bearer}"}, timeout=10)


def test_the_agent_answers_only_with_the_token_and_samples_postgres_on_its_own_clock(agent, db_url):
    url, process, samples = agent
    assert call(url, "/time", bearer="wrong").status_code == 401
    assert httpx.post(f"{url}/time", timeout=5).status_code == 401
    with database.connect(db_url) as conn:  # a backend that lives across the window, as a pool's do
        before = call(url, "/time").json()["time"]
        assert abs(before - time.time()) < 1
        conn.execute("SELECT count(*) FROM generate_series(1, 3000000)")
        after = call(url, "/time").json()["time"]
        window = call(url, "/cpu", {"from": before, "to": after}).json()
    assert window["parties"]["postgres"] > 0.05, window
    assert window["from"] <= before and window["to"] >= after and 0 <= window["steal"] <= 1
    assert samples.read_text().count("\n") >= 3, "every sample is kept in its host's file"


def test_the_agent_stops_when_its_lease_runs_out(agent):
    url, process, _ = agent
    call(url, "/time")
    assert process.wait(timeout=15) == 0, "no request for 3 s: it stopped by itself"


def test_the_app_hosts_client_reads_the_agents_clock_and_its_cpu_windows(agent, db_url):
    from runner.cluster.agent_client import AgentClient

    url, _, _ = agent
    client = AgentClient("db1", url, TEST_TOKEN)
    client.measure_offset()
    assert abs(client.offset_s) < 0.05 and client.uncertainty_s < 0.05, "one clock, read over loopback"
    with database.connect(db_url) as conn:
        start = time.time()
        conn.execute("SELECT count(*) FROM generate_series(1, 3000000)")
        window = client.window(start, time.time())
    assert window["parties"]["postgres"] > 0.05 and window["from"] <= start + client.uncertainty_s
    wrong = AgentClient("db1", url, "not-the-token")
    with pytest.raises(DbbenchError, match="refused /time: 401"):
        wrong.call("/time")


def test_the_heartbeat_holds_the_lease_and_the_agent_stops_once_it_ends(agent, monkeypatch):
    from runner.cluster import agent_client

    url, process, _ = agent
    monkeypatch.setattr(agent_client, "HEARTBEAT_S", 1.0)
    with agent_client.Heartbeat([agent_client.AgentClient("db1", url, TEST_TOKEN)]):
        time.sleep(5)
        assert process.poll() is None, "a 3 s lease held for 5 s by the heartbeat"
    assert process.wait(timeout=15) == 0, "the heartbeat ended: the lease ran out"


def test_a_partys_cpu_counter_keeps_what_exited_processes_used():
    """A backend that exits between samples keeps the CPU it was last seen with; a pid taken by
    a new process (its time starts again near 0) does not take any back."""
    from runner.cluster.agent import PartyCounter

    counter = PartyCounter()
    assert counter.update({10: 1.0, 11: 2.0}) == 3.0
    assert counter.update({10: 1.5}) == 3.5, "11 exited: its 2.0 s stay counted"
    assert counter.update({10: 0.25, 12: 0.5}) == 4.25, "10 is a new process now: the old one's 1.5 s stay"
    assert counter.update({10: 0.5, 12: 1.0}) == 5.0
