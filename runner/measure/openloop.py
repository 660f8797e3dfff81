"""The constant-rate (open-loop) load stage: oha sends R requests per second whatever the server does.

wrk is closed-loop: a connection waits for its answer before it sends again, so a slow server
slows the load down and the requests that would have waited are never sent (coordinated
omission). Here the schedule is fixed in advance, and latency is measured from each
request's intended send time (oha's --latency-correction): a server that stalls is charged
for every request that queued behind the stall.

oha writes every succeeded request to SQLite (--db-url) with its intended and its actual
send time; the achieved rate, the send lag and the percentiles are computed here from
those rows, the errors from oha's JSON summary. A slice that could not hold its rate (fewer
than 98% of the scheduled requests sent in its time) is marked as not held, and is never
reported as if it had been. Requests sent late (every connection busy, or a busy generator)
are counted; their latency still runs from the intended time, so lateness is never hidden.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import quote

import numpy as np
import psutil

from runner.base import paths, scenarios
from runner.base.errors import DbbenchError
from runner.measure import cpu, wrk

GENERATOR = "oha"
HELD_FRACTION = 0.98  # the rate is held when the achieved rate is within 2% of the target
LATE_MS = 10.0  # a request sent this much after its intended time is counted as late
TIMEOUT_S = wrk.WRK_TIMEOUT_S
PERCENTILES = ("50", "75", "90", "99", "99.9")
CORRECTION = ("latency from each request's intended send time (oha --latency-correction), so time spent "
              "queued behind a slow answer counts")
URL_ENDPOINTS = ("by-id", "by-username", "page")


def binary() -> Path:
    found = paths.built_tool(GENERATOR)
    if found is None:
        raise DbbenchError("constant-rate mode needs oha, not built here: run `make open-loop` "
                           "(runner/bootstrap.sh --open-loop builds it with cargo)")
    return found


def version() -> str:
    """'oha 1.16.0', as the binary says."""
    try:
        result = subprocess.run([str(binary()), "--version"], capture_output=True, text=True, timeout=10)
    except OSError as exc:
        raise DbbenchError(f"oha does not run: {exc}") from None
    return result.stdout.strip() or f"oha {paths.built_version(GENERATOR)}"


def check_scenario(scenario: scenarios.Scenario) -> None:
    """oha sends one method to URLs drawn from a list: the single-endpoint GET scenarios."""
    if scenario.weights or scenario.writes or len(scenario.endpoints) != 1 or \
            scenario.endpoints[0] not in URL_ENDPOINTS:
        raise DbbenchError(f"scenario {scenario.name!r} cannot run at a constant rate: oha sends GETs drawn from a "
                           f"list of URLs, which covers the scenarios {', '.join(URL_ENDPOINTS)}")


def request_paths(endpoint: str, max_id: int, usernames: Path | None) -> list[str]:
    """Every request the scenario can make, once each; oha draws from them uniformly, as the
    Lua scripts do (ids 1..max_id, seeded usernames, pages of 20 after 0..max_id)."""
    if endpoint == "by-id":
        return [f"/users/{user_id}" for user_id in range(1, max_id + 1)]
    if endpoint == "by-username":
        if usernames is None:
            raise DbbenchError("the by-username scenario needs the seeded usernames file")
        return [f"/users/by-username/{quote(name, safe='')}" for name in usernames.read_text().split()]
    return [f"/users?after={after}&limit=20" for after in range(0, max_id + 1)]


def write_urls(base_url: str, scenario: scenarios.Scenario, max_id: int, usernames: Path | None, target: Path) -> Path:
    target.write_text("".join(f"{base_url}{path}\n" for path in request_paths(scenario.endpoints[0], max_id,
                                                                                usernames)))
    return target


def oha_duration(duration_s: float) -> str:
    """Whole seconds as before ("1s"); a sub-second or fractional slice in milliseconds."""
    return f"{duration_s:g}s" if float(duration_s).is_integer() else f"{round(duration_s * 1000)}ms"


def run_rate(
    base_url: str, scenario: scenarios.Scenario, rate: float, connections: int, duration_s: float, max_id: int,
    server_processes: list[psutil.Process] | None, pinning: cpu.Pinning | None = None,
    postmaster_pid: int | None = None, usernames: Path | None = None,
    proxy_processes: list[psutil.Process] | None = None,
) -> dict:
    """One constant-rate run: `rate` requests per second for `duration_s`, over up to
    `connections` connections; returns the same numbers as wrk.run_wrk plus `open_loop`."""
    check_scenario(scenario)
    threads = min(scenario.threads, connections)
    with tempfile.TemporaryDirectory(prefix="dbbench-oha-") as tmp:
        urls = write_urls(base_url, scenario, max_id, usernames, Path(tmp) / "urls.txt")
        out, db, log = Path(tmp) / "oha.json", Path(tmp) / "requests.db", Path(tmp) / "oha.log"
        argv = [str(binary()), "--no-tui", "--no-color", "--output-format", "json", "-o", str(out),
                "-z", oha_duration(duration_s), "-q", f"{rate:g}", "--latency-correction", "-w", "-c", str(connections),
                "-t", f"{TIMEOUT_S}s", "--worker-threads", str(threads), "--db-url", str(db),
                "--urls-from-file", str(urls)]
        ran = wrk.run_generator(argv, {**os.environ, "NO_COLOR": "1"}, pinning.wrk if pinning else None, log,
                                 duration_s + TIMEOUT_S + 60, cpu.Parties(server_processes, postmaster_pid,
                                                                           proxy_processes))
        if ran.returncode != 0 or not out.exists() or not db.exists():
            raise DbbenchError(f"oha failed (exit {ran.returncode}): {wrk.log_tail(log)}")
        summary = json.loads(out.read_text())
        rows = read_requests(db)
    shown = [Path(arg).name if arg.startswith(tmp) else arg for arg in argv]
    shown[0] = GENERATOR
    return summarize(summary, rows, rate, duration_s, shown, ran, threads)


def read_requests(db: Path) -> np.ndarray:
    """(intended send, actual send, end, status) per succeeded request, in seconds from oha's start."""
    with sqlite3.connect(db) as conn:
        found = conn.execute("SELECT start_latency_correction, start, end, status FROM oha").fetchall()
    if any(row[0] is None for row in found):
        raise DbbenchError("oha recorded no intended send times: was --latency-correction ignored?")
    return np.asarray(found, dtype=float).reshape(-1, 4)


def summarize(summary: dict, rows: np.ndarray, rate: float, duration_s: float, argv: list[str],
              ran: wrk.GeneratorRun, threads: int) -> dict:
    errors_by_kind = {kind: int(count) for kind, count in (summary.get("errorDistribution") or {}).items()}
    errors = sum(errors_by_kind.values())
    statuses = rows[:, 3].astype(int)
    non_2xx = int(np.count_nonzero((statuses < 200) | (statuses >= 300)))
    latency = (rows[:, 2] - rows[:, 0]) * 1000  # from the intended send time
    service = (rows[:, 2] - rows[:, 1]) * 1000  # from the actual send: what a closed-loop tool would see
    lag = np.maximum(rows[:, 1] - rows[:, 0], 0) * 1000
    sent = len(rows) + errors
    # -w waits for the requests in flight at the deadline; only those sent before it count
    # towards the rate achieved (oha records no send time for a failed request: those count).
    achieved = (int(np.count_nonzero(rows[:, 1] <= duration_s)) + errors) / duration_s
    late = int(np.count_nonzero(lag > LATE_MS))
    held = achieved >= HELD_FRACTION * rate

    def percentiles(values: np.ndarray) -> dict[str, float]:
        if not len(values):
            return {**{f"p{p}": 0.0 for p in PERCENTILES}, "mean": 0.0, "max": 0.0}
        found = np.percentile(values, [float(p) for p in PERCENTILES])
        return {**{f"p{p}": round(float(v), 3) for p, v in zip(PERCENTILES, found, strict=True)},
                "mean": round(float(values.mean()), 3), "max": round(float(values.max()), 3)}

    return {
        "requests": sent,
        "duration_s": float(duration_s),
        "rps": round(achieved, 2),
        "errors": errors,
        "errors_by_kind": errors_by_kind,
        "non_2xx": non_2xx,
        "latency_ms": percentiles(latency),
        "cpu_seconds": {GENERATOR: ran.cpu_s, **ran.parties},
        "wall_s": round(ran.elapsed_s, 3),
        "generator_args": argv,
        "open_loop": {
            "target_rps": rate, "achieved_rps": round(achieved, 2), "held": bool(held),
            "scheduled": int(round(rate * duration_s)), "sent": sent, "late": late, "late_ms": LATE_MS,
            "send_lag_ms": {"p99": round(float(np.percentile(lag, 99)), 3) if len(lag) else 0.0,
                            "max": round(float(lag.max()), 3) if len(lag) else 0.0},
            "service_ms": {key: value for key, value in percentiles(service).items() if key in ("p50", "p99")},
            "generator_threads": threads,
        },
    }
