"""The database across a network: toxiproxy between the cells and PostgreSQL (--db-latency).

No figure is asserted except the one the proxy guarantees by construction: a lookup that
crosses the proxy cannot take less than the round trip it adds.
"""

from __future__ import annotations

import psutil
import pytest
from conftest import dbbench

from runner import proxy, report, results

LATENCY_MS = 5


def toxiproxy_processes() -> set[int]:
    return {p.pid for p in psutil.process_iter(["cmdline"]) if "toxiproxy-server" in " ".join(p.info["cmdline"] or [])}


@pytest.fixture(scope="module")
def latency_run(db_url, tmp_path_factory):
    before = toxiproxy_processes()
    out = tmp_path_factory.mktemp("latency")
    result = dbbench("run", "--frameworks", "fastapi,gin", "--variants", "raw", "--db-latency", str(LATENCY_MS),
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
    markdown = report.render_markdown(latency_run)
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
