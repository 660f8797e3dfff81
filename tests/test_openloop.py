"""Constant-rate (open-loop) measurement: oha holds a rate, charges a stall to every request
that waited behind it, and the SLO search finds a known limit.

The toy servers here have a designed behaviour (a 1 s stall, a latency set by the arrival
rate); what is asserted is that behaviour showing through the method, and the generator's
tolerance on a rate, never a throughput or a latency of this machine.
"""

from __future__ import annotations

import collections
import json
import os
import shutil
import signal
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from conftest import REPO, dbbench

from runner.base import scenarios
from runner.base.errors import DbbenchError
from runner.experiments import latency, sweep
from runner.measure import openloop, wrk
from runner.measure.options import RunOptions
from runner.measure.plan import Plan
from runner.report import results, stats, tables

TOY_USERS = 1000


class ToyServer(ThreadingHTTPServer):
    """Answers GET /users/N with a small JSON body; `delay` decides how long each request waits."""

    daemon_threads = True

    def __init__(self, delay):
        self.delay = delay
        self.arrivals: collections.deque[float] = collections.deque()
        self.lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            wbufsize = -1  # one write per answer (http.server flushes after each request) ...
            disable_nagle_algorithm = True  # ... sent at once, not after the client's delayed ACK

            def do_GET(self):  # noqa: N802 (http.server's name)
                now = time.monotonic()
                with self.server.lock:
                    self.server.arrivals.append(now)
                    while self.server.arrivals and self.server.arrivals[0] < now - 1.0:
                        self.server.arrivals.popleft()
                    rate = len(self.server.arrivals)
                wait = self.server.delay(now, rate)
                if wait > 0:
                    time.sleep(wait)
                body = json.dumps({"id": 1}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        super().__init__(("127.0.0.1", 0), Handler)

    def handle_error(self, request, client_address):
        """A client hanging up mid-request (a generator at its deadline) is no error for a toy."""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@pytest.fixture
def toy():
    servers = []

    def start(delay) -> ToyServer:
        server = ToyServer(delay)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def at_rate(server: ToyServer, rate: float, seconds: float, connections: int = 64) -> dict:
    return openloop.run_rate(server.url, scenarios.load_scenario("by-id"), rate=rate, connections=connections,
                             duration_s=seconds, max_id=TOY_USERS, server_processes=None)


@pytest.mark.slow
def test_a_sub_second_slice_is_stopped_at_its_length_and_measured_by_the_generators_clock(toy):
    """wrk takes whole seconds: a 0.5 s slice runs under -d2s and is stopped by SIGINT, after
    which wrk still reports; oha is given milliseconds."""
    server = toy(lambda now, rate: 0.0)
    scenario = scenarios.load_scenario("by-id")
    measured = wrk.run_wrk(server.url, scenario, connections=4, duration_s=0.5, max_id=TOY_USERS, seed=1,
                            server_processes=None)
    assert "-d2s" in measured["wrk_args"] and measured["requests"] > 0
    assert 0.4 < measured["duration_s"] < 1.5, measured["duration_s"]  # stopped, not run to its -d
    constant = at_rate(server, rate=100, seconds=0.5, connections=4)
    assert "500ms" in constant["generator_args"] and constant["open_loop"]["scheduled"] == 50


@pytest.mark.slow
def test_a_low_rate_is_held_within_two_percent(toy):
    server = toy(lambda now, rate: 0.0)
    found = at_rate(server, 200, 5)
    achieved = found["open_loop"]["achieved_rps"]
    print(f"\ntarget 200/s for 5 s: achieved {achieved:.1f}/s, sent {found['open_loop']['sent']}, "
          f"send lag p99 {found['open_loop']['send_lag_ms']['p99']:.2f} ms")
    assert abs(achieved - 200) <= 0.02 * 200
    assert found["open_loop"]["held"] and found["open_loop"]["scheduled"] == 1000
    assert found["errors"] == 0 and found["non_2xx"] == 0
    assert set(found["cpu_seconds"]) == {"oha", "server", "postgres"} and found["cpu_seconds"]["oha"] > 0


@pytest.mark.slow
def test_the_corrected_p99_includes_a_one_second_stall_with_wrks_closed_loop_p99_beside_it(toy):
    """wrk 4 back-fills its own histogram (stats_correct, at its mean interval per connection),
    so its p99 may show a stall this long too: it is printed beside, not asserted."""
    stall = {"from": None}

    def delay(now: float, rate: float) -> float:
        """Every request that arrives during one second, 2 s after the first, waits for its end."""
        stall["from"] = stall["from"] or now + 2.0
        return max(0.0, stall["from"] + 1.0 - now) if now >= stall["from"] else 0.0

    open_loop = at_rate(toy(delay), 200, 5)
    stall["from"] = None
    closed = wrk.run_wrk(toy(delay).url, scenarios.load_scenario("by-id"), connections=4, duration_s=5,
                          max_id=TOY_USERS, seed=1, server_processes=None)
    corrected, service = open_loop["latency_ms"]["p99"], open_loop["open_loop"]["service_ms"]["p99"]
    print(f"\na 1 s stall in a 5 s run: open-loop p99 from intended send times {corrected:.0f} ms "
          f"(from actual sends {service:.0f} ms); wrk closed-loop p99 {closed['latency_ms']['p99']:.1f} ms "
          f"over {closed['requests']} requests, max {closed['latency_ms']['max']:.0f} ms")
    # About 200 of the 1,000 requests were due during the stall: the 99th percentile is one of them.
    assert corrected >= 500
    assert open_loop["latency_ms"]["max"] >= 900
    assert closed["latency_ms"]["max"] >= 900, "wrk's stalled requests should show in its maximum"


def test_bisection_converges_on_a_known_limit():
    """A limit at 733 requests/s: every probe halves the bracket until it is 5% wide."""
    search = latency.Bisection()
    search.record(2000, "missed")
    probes = 0
    while (rate := search.next_rate()) is not None:
        search.record(rate, "met" if rate <= 733 else "missed")
        probes += 1
    assert search.met <= 733 < search.missed and search.missed - search.met <= 0.05 * search.missed
    assert probes <= 6


@pytest.mark.slow
def test_the_slo_search_finds_the_rate_where_a_toy_servers_p99_crosses_the_bound(toy):
    """The toy answers in 2 ms while at most 200 requests arrived in the last second, and in
    400 ms beyond: p99 <= 150 ms holds up to 200/s and not above. A step, not a slope, and a
    bound far from both answers, so that this machine's scheduling noise (a p99 of 29 ms for the
    2 ms answers in one CI run) cannot move the limit. A fresh toy per probe."""
    objective = latency.Objective.parse("p99=150ms")
    search = latency.Bisection()
    rate: float | None = 400.0
    while rate is not None:
        found = at_rate(toy(lambda now, arrivals: 0.002 if arrivals <= 200 else 0.400), rate, 3)
        p99 = found["latency_ms"]["p99"]
        search.record(rate, "met" if found["open_loop"]["held"] and p99 <= objective.bound_ms else "missed")
        print(f"\n{rate:.0f}/s: p99 {p99:.1f} ms, held {found['open_loop']['held']}")
        rate = search.next_rate()
    print(f"limit between {search.met:.0f} and {search.missed:.0f} requests/s (expected 200)")
    assert 180 <= search.met <= 205 and search.missed is not None and 195 <= search.missed <= 230


def test_a_rate_whose_slices_are_too_short_for_the_percentile_neither_meets_nor_misses():
    """At 600 requests a slice a p99.9 is the slowest request: the summary leaves it out, the
    verdict says so, and the search probes above that rate only (below it, fewer requests)."""
    def cell(requests, p999):
        slices = [{"requests": requests, "open_loop": {"target_rps": 120, "achieved_rps": 120, "held": True,
                                                       "sent": requests, "late": 0, "service_ms": {"p99": 3.0}},
                   "latency_ms": {"p50": 2.0, "p90": 3.0, "p99": 4.0, "p99.9": p999, "max": p999}} for _ in range(3)]
        return {"status": "ok", "flags": [], "open_loop": stats.open_loop_summary(slices)}
    objective = latency.Objective.parse("p99.9=50ms")
    short, long = cell(600, 900.0), cell(1000, 40.0)
    assert "p99.9" not in short["open_loop"]["latency_ms"] and "p99" in short["open_loop"]["latency_ms"]
    tiny = {**cell(99, 9.0), "name": "gin/raw"}
    assert short["open_loop"]["service_p99_ms"] == 3.0 and tiny["open_loop"]["service_p99_ms"] is None
    [row] = tables.open_loop_section({"metadata": {"run": {}}, "cells": [tiny]}).rows
    assert row[4:9] == ["2.00", "3.00", "—", "—", "—"], "99 requests a slice: p99 and service p99 need 100"
    assert objective.verdict(short) == "unresolved" and objective.verdict(long) == "met"
    assert latency.Objective.parse("p99=50ms").verdict(short) == "met"
    search = latency.Bisection()
    search.record(150, "unresolved")
    search.record(300, "missed")
    assert search.next_rate() == 225.0, "150/s was unresolved: the bracket starts above it, not at 0"
    search.record(225, "unresolved")
    assert search.next_rate() == 262.5
    search.record(262.5, "met")
    assert search.next_rate() == 281.2
    search.record(275, "missed")
    assert search.next_rate() is None, "262.5 to 275 is within 5% of 275"


@pytest.mark.parametrize("text, expected", [("p99=50ms", ("p99", 50.0)), ("p99.9=0.2s", ("p99.9", 200.0)),
                                            ("P50=5ms", ("p50", 5.0))])
def test_objectives_parse(text, expected):
    found = latency.Objective.parse(text)
    assert (found.percentile, found.bound_ms) == expected


@pytest.mark.parametrize("text", ["p99", "p98=5ms", "p99=-1ms", "99=5ms", "p99=5"])
def test_a_bad_objective_is_refused(text):
    with pytest.raises(DbbenchError):
        latency.Objective.parse(text)


def test_rate_is_a_sweep_parameter():
    assert sweep.parse_param("rate=100,200") == ("rate", [100, 200])


@pytest.fixture(scope="module")
def rate_run(db_url, tmp_path_factory):
    out = tmp_path_factory.mktemp("rate")
    result = dbbench("run", "--frameworks", "gin", "--variants", "raw", "--rate", "300", "--slice", "2",
                     "--rounds", "2", "--connections", "8", "--out", str(out), timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return results.load(out / "latest"), result.stdout


def test_a_rate_run_records_the_generator_its_version_the_rate_and_the_correction(rate_run):
    document, printed = rate_run
    meta = document["metadata"]
    assert meta["tools"]["oha"] == "oha 1.16.0"
    found = meta["run"]["open_loop"]
    assert found["generator"] == "oha 1.16.0" and found["rate"] == 300
    assert "intended send time" in found["correction"]
    cell = document["cells"][0]
    assert cell["status"] == "ok" and cell["rate_target"] == 300
    for piece in cell["slices"]:
        assert piece["open_loop"]["target_rps"] == 300 and piece["open_loop"]["achieved_rps"] > 0
        assert piece["generator_args"][:1] == ["oha"] and "--latency-correction" in piece["generator_args"]
        assert "oha" in piece["cpu_seconds"] and "wrk" not in piece["cpu_seconds"]
    assert cell["open_loop"]["target_rps"] == 300 and set(cell["open_loop"]["latency_ms"]) >= {"p50", "p99"}
    assert "p99.9" not in cell["open_loop"]["latency_ms"], "600 requests a slice: a p99.9 would be each one's maximum"
    assert cell["rank"] is None and document["summary"]["comparisons"] == []
    assert "## Latency at a constant rate" in printed and "## Requests per second" not in printed
    assert "oha 1.16.0 at a constant rate, 300 requests/s" in printed


def test_a_rate_not_held_is_flagged_and_never_reported_as_held(rate_run):
    document, _ = rate_run
    cell = json.loads(json.dumps(document["cells"][0]))
    measured = results.used_slices(cell)[0]  # slices[0] may have been disturbed and measured again
    measured["open_loop"]["held"] = False
    measured["rps"] = measured["open_loop"]["achieved_rps"] = 150
    changed = {**document, "cells": [cell]}
    results.finalize(changed)
    assert cell["open_loop"]["held"] is False and cell["flags"][0] == "rate-not-held"
    assert "**not held** (1 slice(s))" in tables.render_markdown(changed)


def test_a_client_bound_cell_shows_no_latency_that_would_describe_the_generator(rate_run):
    document, _ = rate_run
    cell = json.loads(json.dumps(document["cells"][0]))
    for piece in cell["slices"]:
        piece["cpu_seconds"]["oha"] = piece["duration_s"]  # one whole core: its one thread was saturated
    changed = {**document, "cells": [cell]}
    results.finalize(changed)
    assert "client-bound" in cell["flags"]
    row = next(line for line in tables.render_markdown(changed).splitlines() if line.startswith("| gin/raw | 300"))
    assert row.count("client-bound") >= 4, row


@pytest.mark.parametrize("scenario", ["mix", "edit"])
def test_a_scenario_oha_cannot_send_is_one_line(db_url, scenario):
    result = dbbench("run", "--frameworks", "gin", "--variants", "raw", "--rate", "100", "--scenario", scenario)
    assert result.returncode == 2
    assert "cannot run at a constant rate" in result.stderr and "Traceback" not in result.stderr


def test_latency_measures_steps_and_the_slo_throughput(db_url, tmp_path):
    result = dbbench("latency", "--frameworks", "gin", "--variants", "raw", "--steps", "50,100", "--slo", "p99=50ms",
                     "--quick", "--rounds", "1", "--probes", "1", "--connections", "8", "--out", str(tmp_path),
                     timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    [path] = list((tmp_path / "latency").glob("*/latency.json"))
    document = json.loads(path.read_text())
    assert document["complete"] and document["objective"] == {"percentile": "p99", "bound_ms": 50.0}
    peak = document["closed_loop"]["cells"][0]["rps_median"]
    assert [point["percent"] for point in document["points"]] == [50, 100]
    for point in document["points"]:
        cell = point["results"]["cells"][0]
        assert cell["rate_target"] == pytest.approx(peak * point["percent"] / 100, abs=0.1)
        assert cell["open_loop"] is not None
    assert len(document["search"]) <= 1
    for name in ("report.html", "latency.md", "figures/latency-load.svg", "figures/latency-load.png"):
        assert (path.parent / name).exists(), name
    again = dbbench("report", str(path.parent), "--format", "md")
    assert again.returncode == 0 and again.stdout == (path.parent / "latency.md").read_text()
    assert "## Latency against offered load" in result.stdout
    assert "## Highest throughput that meets p99 ≤ 50 ms" in result.stdout
    assert "gin/raw" in result.stdout


def test_a_stopped_oha_build_leaves_no_build_directory(tmp_path):
    """bootstrap.sh builds oha in a directory of its own; stopped mid-build (as a stopped CI
    stops it), the directory goes with it. A stand-in cargo says where it builds, then waits."""
    fakes = tmp_path / "bin"
    fakes.mkdir()
    told = tmp_path / "root"
    (fakes / "cargo").write_text(
        "#!/bin/sh\nwhile [ \"$1\" != --root ]; do shift; done\n"
        f"echo \"$2\" > {told}\nexec sleep 60\n")
    (fakes / "go").write_text("#!/bin/sh\necho go9.99\n")  # usable_go's check, without a toolchain
    for fake in fakes.iterdir():
        fake.chmod(0o755)
    env = {**os.environ, "PATH": f"{fakes}{os.pathsep}{os.environ['PATH']}",
           "DBBENCH_HOME": str(tmp_path / "state"), "DBBENCH_GO": str(fakes / "go"), "TMPDIR": str(tmp_path)}
    argv = [shutil.which("bash") or "/bin/bash", str(REPO / "runner" / "bootstrap.sh"), "--open-loop"]
    bootstrap = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                 start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not told.exists() or not told.read_text().strip():
            assert bootstrap.poll() is None and time.monotonic() < deadline, "the stand-in cargo never started"
            time.sleep(0.05)
        build = Path(told.read_text().strip())
        assert build.is_dir()
        os.killpg(bootstrap.pid, signal.SIGTERM)
        bootstrap.wait(timeout=10)
    finally:
        if bootstrap.poll() is None:
            os.killpg(bootstrap.pid, signal.SIGKILL)
            bootstrap.wait()
    assert not build.exists()


def test_a_rate_run_keeps_whole_second_slices_unless_told():
    """Its figures are percentiles: half-second slices would halve the requests behind each."""
    assert Plan.resolve(RunOptions()).slice_s == 0.5
    assert Plan.resolve(RunOptions(rate=100)).slice_s == 1
    assert Plan.resolve(RunOptions(rate=100, slice_s=0.5)).slice_s == 0.5
