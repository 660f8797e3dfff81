"""The database across a network: toxiproxy between the cells and PostgreSQL (--db-latency).

No figure is asserted except the one the proxy guarantees by construction: a lookup that
crosses the proxy cannot take less than the round trip it adds.
"""

from __future__ import annotations

import json
import signal
import subprocess

import psutil
import pytest
from conftest import DBBENCH, REPO, dbbench

from runner.base import ports
from runner.base.errors import DbbenchError
from runner.db import database, proxy
from runner.measure import options, run
from runner.report import results, tables

LATENCY_MS = 5


def toxiproxy_processes() -> set[int]:
    return {p.pid for p in psutil.process_iter(["cmdline"]) if "toxiproxy-server" in " ".join(p.info["cmdline"] or [])}


@pytest.fixture(scope="module")
def latency_run(db_url, tmp_path_factory):
    before = toxiproxy_processes()
    out = tmp_path_factory.mktemp("latency")
    result = dbbench("run", "--pool-size", "rule",
                     "--frameworks", "fastapi,gin", "--variants", "raw", "--db-latency", str(LATENCY_MS),
                     "--slice", "1", "--rounds", "2", "--connections", "8", "--out", str(out), timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert toxiproxy_processes() <= before, "the run left its toxiproxy running"
    return results.load(out / "latest")


def test_cells_verified_through_the_proxy_show_the_added_round_trip(latency_run):
    run = latency_run["metadata"]["run"]
    assert run["db_latency_ms"] == LATENCY_MS
    assert run["proxy"] == {"tool": "toxiproxy", "version": "v2.12.0", "latency_ms": LATENCY_MS,
                            "per_direction_ms": {"upstream": 3, "downstream": 2}}
    for cell in latency_run["cells"]:
        assert cell["status"] == "ok", cell["reason"]
        checks = {check["name"]: check for check in cell["verification"]["checks"]}
        assert checks["db round trip"]["ok"], checks["db round trip"]
        assert cell["verification"]["round_trip_ms"] >= LATENCY_MS
        # The pool check counted the cell's connections to the proxy's port: they all go through it.
        assert checks["pool"]["ok"]


def test_the_proxy_is_a_party_of_its_own_in_the_cpu_figures(latency_run):
    for cell in latency_run["cells"]:
        assert all(piece["cpu_seconds"]["proxy"] is not None for piece in cell["slices"])
        assert cell["cpu_us_per_request"]["proxy"] > 0
    markdown = tables.render_markdown(latency_run)
    assert "toxiproxy µs/request" in markdown
    assert "+5 ms per round trip (3 ms on the way there, 2 ms back)" in markdown


def test_the_cells_url_goes_through_the_proxy_and_keeps_its_credentials():
    url = "postgresql://dbbench:secret@db.example:6543/dbbench?sslmode=disable"
    assert proxy.through(url, 40001) == "postgresql://dbbench:secret@127.0.0.1:40001/dbbench?sslmode=disable"
    assert proxy.through("postgresql://127.0.0.1:5432/x", 9) == "postgresql://127.0.0.1:9/x"
    assert proxy.split_round_trip(5) == {"upstream": 3, "downstream": 2}
    assert proxy.split_round_trip(1) == {"upstream": 1, "downstream": 0}


@pytest.mark.parametrize("value", ["2.5", "-1", "10001", "fast"])
def test_a_bad_latency_is_one_line(value):
    result = dbbench("run", "--db-latency", value)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "--db-latency" in result.stderr and "Traceback" not in result.stderr


def test_every_pool_serves_again_after_its_connections_drop_and_after_an_outage(db_url, tmp_path):
    """One cell per pool library: asyncpg's, SQLAlchemy's QueuePool, psycopg_pool, pgx."""
    before = toxiproxy_processes()
    result = dbbench("faults", "--frameworks", "fastapi,flask,gin", "--variants", "raw,sa-core", "--outage", "2",
                     "--out", str(tmp_path), timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    assert toxiproxy_processes() <= before
    document = json.loads(next(tmp_path.glob("faults/*/faults.json")).read_text())
    assert document["complete"] is True
    pools = {cell["name"]: cell["pool"] for cell in document["cells"]}
    assert pools == {"fastapi/raw": "asyncpg pool", "fastapi/sa-core": "SQLAlchemy AsyncAdaptedQueuePool over asyncpg",
                     "flask/raw": "psycopg_pool", "gin/raw": "pgxpool (pgx v5)"}
    for cell in document["cells"]:
        assert cell["status"] == "ok", cell["reason"]
        assert cell["restarted"] is False and cell["verified_after"] is True
        faults = {fault["fault"]: fault for fault in cell["faults"]}
        assert set(faults) == {"reset", "outage"}
        assert all(fault["recovered"] and fault["recovery_s"] is not None for fault in faults.values())
        # The outage really cut the cell off: it could not answer every lookup with a 200.
        assert faults["outage"]["failed_answers"] > 0 and faults["outage"]["seconds"] >= 2
    assert "| gin/raw | pgxpool (pgx v5) |" in result.stdout


def test_a_cell_serving_elsewhere_is_measured_with_target_and_marked_remote(db_url, tmp_path):
    """`dbbench serve` started on its own (as on another host), then `run --target` against it."""
    port = ports.free_port()
    server = subprocess.Popen([*DBBENCH, "serve", "fastapi", "raw", "--port", str(port), "--connections", "8",
                               "--db-url", db_url], cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        result = dbbench("run", "--target", f"http://127.0.0.1:{port}", "--cell", "fastapi/raw", "--db-url", db_url,
                         "--slice", "1", "--rounds", "2", "--connections", "8", "--out", str(tmp_path), timeout=300)
        assert result.returncode == 0, result.stderr[-3000:]
        assert server.poll() is None, "the run stopped a cell it did not start"
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(30)
    document = results.load(tmp_path / "latest")
    assert document["metadata"]["run"]["target"] == f"http://127.0.0.1:{port}"
    assert document["metadata"]["stacks"] == {}
    (cell,) = document["cells"]
    assert cell["remote"] is True and cell["status"] == "ok" and cell["verification"]["ok"] is True
    assert {check["name"] for check in cell["verification"]["checks"]} >= {"values", "missing", "statements"}
    assert all(piece["cpu_seconds"]["server"] is None for piece in cell["slices"])
    assert cell["cpu_us_per_request"]["server"] is None
    assert "the cell serves on another host" in tables.render_markdown(document)


def test_a_fault_in_a_measured_run_is_recorded_and_the_run_goes_on(db_url, tmp_path):
    result = dbbench("run", "--pool-size", "rule",
                     "--frameworks", "fastapi,gin", "--variants", "raw", "--fault", "outage",
                     "--outage", "2", "--slice", "1", "--rounds", "3", "--connections", "8",
                     "--out", str(tmp_path), timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    document = results.load(tmp_path / "latest")
    run = document["metadata"]["run"]
    assert run["proxy"]["latency_ms"] == 0
    (fault,) = run["faults"]
    assert fault["fault"] == "outage" and fault["after_round"] == 2 and fault["seconds"] >= 2
    assert set(fault["recovery_s"]) == {"fastapi/raw", "gin/raw"}
    assert all(took is not None for took in fault["recovery_s"].values())
    # The cells could not answer every lookup while PostgreSQL was gone: the fault happened.
    for answers in fault["answers"].values():
        assert sum(n for outcome, n in answers.items() if outcome != "200") > 0
    for cell in document["cells"]:
        assert cell["status"] == "ok", cell["reason"]
        assert sorted(piece["round"] for piece in cell["slices"] if not piece["repeat"]) == [1, 2, 3]
    assert "**Fault**: PostgreSQL unreachable" in tables.render_markdown(document)


def test_proxy_at_zero_ms_puts_toxiproxy_in_the_path_without_latency(db_url, tmp_path):
    result = dbbench("run", "--pool-size", "rule",
                     "--frameworks", "gin", "--variants", "raw", "--proxy", "--slice", "1", "--rounds", "1",
                     "--connections", "4", "--out", str(tmp_path), timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    document = results.load(tmp_path / "latest")
    assert document["metadata"]["run"]["proxy"]["latency_ms"] == 0
    (cell,) = document["cells"]
    assert cell["cpu_us_per_request"]["proxy"] > 0
    assert cell["verification"]["round_trip_ms"] is None  # nothing added: nothing to time
    assert "no latency added" in tables.render_markdown(document)


def test_toxiproxy_is_built_on_first_use_and_a_failed_build_is_one_line(monkeypatch, tmp_path):
    """`make bench-db` on loopback does not build it; the first command that needs it does,
    through the bootstrap's --proxy, and says so in one line when that build fails."""
    built = tmp_path / "toxiproxy-server"
    calls = []

    def bootstrap(argv, **_):
        calls.append(argv)
        built.touch()

    monkeypatch.setattr(proxy.subprocess, "run", bootstrap)
    monkeypatch.setattr(proxy.paths, "built_tool", lambda name: built if built.exists() else None)
    assert proxy.binary() == built
    assert len(calls) == 1 and calls[0][0].endswith("bash")
    assert calls[0][1:] == [str(REPO / "runner" / "bootstrap.sh"), "--proxy"]
    assert proxy.binary() == built and len(calls) == 1, "built once, then found"
    built.unlink()
    monkeypatch.setattr(proxy.subprocess, "run", lambda argv, **_: calls.append(argv))
    with pytest.raises(DbbenchError, match=r"could not be built .*bootstrap.sh --proxy") as raised:
        proxy.binary()
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize(("latency", "asked"), [(2, True), (0, False)])
def test_a_run_that_needs_toxiproxy_asks_for_it_before_its_budget_s_clock_starts(monkeypatch, tmp_path, latency,
                                                                                  asked):
    """Built on first use, toxiproxy takes about 45 s: in prepare, with the environments, and
    not out of the run's measured budget; a run on loopback never asks for it."""
    asks = []

    def binary():
        asks.append(True)
        raise DbbenchError("asked for toxiproxy")

    def database_url(_):
        raise DbbenchError("went on")

    monkeypatch.setattr(proxy, "binary", binary)
    monkeypatch.setattr(database, "database_url", database_url)
    runner = run.Run(options.RunOptions(frameworks=["fastapi"], variants=["raw"], db_latency_ms=latency, out=tmp_path))
    with pytest.raises(DbbenchError, match="asked for toxiproxy" if asked else "went on"):
        runner.prepare()
    assert bool(asks) is asked
