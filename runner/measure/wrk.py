"""The closed-loop load generator: wrk with the scenario's Lua, stopped at the slice's length, its
report read through a Lua done() hook as JSON, and the CPU of every party over its run.

wrk is closed-loop: each connection waits for its response before sending the next, so
its latency percentiles at saturation understate the tail (coordinated omission). They
are stored and shown as what they are.
"""

from __future__ import annotations

import json
import math
import os
import select
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psutil

from runner.base import paths, supervise
from runner.base.errors import DbbenchError
from runner.base.scenarios import Scenario
from runner.db import database
from runner.measure.cpu import Parties, Pinning

PRELUDE_LUA = Path(__file__).with_name("wrk_prelude.lua")
REPORT_LUA = Path(__file__).with_name("wrk_report.lua")
COUNT_LUA = Path(__file__).with_name("wrk_count.lua")
COUNTED_TIMEOUT_S = 120  # beyond a request's share: a counted run's start and a slow first answer
COUNTED_REQUEST_S = 1.0  # the longest a request under callgrind is given, on average
WRK_TIMEOUT_S = 5
PERCENTILES = ("50", "75", "90", "99", "99.9")


def wrk_binary() -> str:
    found = shutil.which("wrk")
    if not found:
        raise DbbenchError("wrk is not installed: 'apt-get install wrk' (or run 'bash runner/bootstrap.sh' as root)")
    return found


def wrk_version() -> str:
    """'wrk 4.1.0' style: the first two words of its banner, without the copyright."""
    result = subprocess.run([wrk_binary(), "--version"], capture_output=True, text=True, timeout=10)
    words = (result.stdout or result.stderr).split()
    return " ".join(words[:2]) if words else "unknown"


def build_script(scenario: Scenario, directory: Path, ending: Path = REPORT_LUA) -> Path:
    """The scenario's Lua between the shared prelude (seeds, counters, helpers) and the
    JSON report hook (or `ending`)."""
    target = directory / f"{scenario.name}.lua"
    target.write_text("\n".join(path.read_text() for path in (PRELUDE_LUA, scenario.script, ending)))
    return target


def lua_environment(scenario: Scenario, out: Path, max_id: int, seed: int, usernames: Path | None,
                    max_post_id: int, queries_n: int) -> dict[str, str]:
    """What the prelude and the scenario read from the environment."""
    env = {**os.environ, "DBBENCH_WRK_OUT": str(out), "DBBENCH_MAX_ID": str(max_id),
           "DBBENCH_MAX_POST_ID": str(max_post_id), "DBBENCH_QUERIES": str(queries_n),
           "DBBENCH_SEED": str(seed), **scenario.lua_environment()}
    if usernames is not None:
        env["DBBENCH_USERNAMES"] = str(usernames)
    return env


def send_counted(base_url: str, scenario: Scenario, requests: int, max_id: int, seed: int,
                 usernames: Path | None = None, max_post_id: int = 0, queries_n: int = 20,
                 still_running: Callable[[], None] | None = None, connections: int = 1) -> dict:
    """Exactly `requests` of the scenario answered, one after the other on one connection, or
    `connections` at a time (the same ones for the same seed): {"answered", "statuses", "sent"}.
    For dbbench cost, which counts what they cost; with more than one connection, wrk stops with
    the others' requests in flight, alike for any batch size, so they cancel in its difference.
    `still_running` raises if the server died meanwhile (wrk would retry its connection until its
    deadline)."""
    with tempfile.TemporaryDirectory(prefix="dbbench-wrk-") as tmp:
        script = build_script(scenario, Path(tmp), ending=COUNT_LUA)
        out = Path(tmp) / "wrk.json"
        timeout = COUNTED_TIMEOUT_S + requests * COUNTED_REQUEST_S
        argv = [wrk_binary(), "-t1", f"-c{connections}", f"-d{math.ceil(timeout) + 60}s", f"--timeout={WRK_TIMEOUT_S}s",
                "-s", str(script), base_url]
        env = {**lua_environment(scenario, out, max_id, seed, usernames, max_post_id, queries_n),
               "DBBENCH_STOP_AFTER": str(requests)}
        log = Path(tmp) / "wrk.log"
        with log.open("wb") as log_handle:
            process = subprocess.Popen(argv, env=env, stdout=log_handle, stderr=subprocess.STDOUT,
                                       preexec_fn=supervise.die_with_parent(os.getpid()))
        returncode, _ = wait_with_usage(process, timeout, still_running=still_running)
        if returncode != 0 or not out.exists():
            raise DbbenchError(f"wrk stopped before {requests} answers (exit {returncode}): {log_tail(log)}")
        return json.loads(out.read_text())


def usernames_file(url: str, checksum: str) -> Path:
    """The seeded usernames in id order, one per line, for the Lua scripts; written once per
    seed (the checksum names it) under the state directory."""
    target = paths.state_home() / "usernames" / f"{checksum}.txt"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        with database.connect(url) as conn:
            names = [row[0] for row in conn.execute("SELECT username FROM dbbench_seed_users ORDER BY id")]
        partial = target.with_suffix(".partial")
        partial.write_text("\n".join(names) + "\n")
        partial.replace(target)
    return target


@dataclass
class GeneratorRun:
    returncode: int
    cpu_s: float  # the generator's own user+system seconds
    elapsed_s: float
    parties: dict[str, float | None]


def run_generator(argv: list[str], env: dict[str, str], cores: list[int] | None, log: Path, timeout: float,
                  parties: Parties, interrupt_after: float | None = None) -> GeneratorRun:
    """Start a load generator (wrk or oha) on its cores, dying with us; wait for it, and
    account every party's CPU over its run. `interrupt_after`: SIGINT it then (wrk stops
    and reports what it measured)."""
    before = parties.snapshot()
    started = time.monotonic()
    on_parent_death = supervise.die_with_parent(os.getpid())

    def preexec() -> None:
        on_parent_death()
        if cores:
            os.sched_setaffinity(0, cores)

    with log.open("wb") as log_handle:
        process = subprocess.Popen(argv, env=env, stdout=log_handle, stderr=subprocess.STDOUT, preexec_fn=preexec)
    returncode, cpu = wait_with_usage(process, timeout, Path(argv[0]).name,
                                      None if interrupt_after is None else started + interrupt_after)
    return GeneratorRun(returncode, cpu, time.monotonic() - started, parties.used(before))


def log_tail(log: Path) -> str:
    return " | ".join(log.read_text(errors="replace").strip().splitlines()[-3:]) or "no output"


def wrk_duration(duration_s: float) -> tuple[int, float | None]:
    """wrk's -d takes whole seconds. A slice of another length runs under a -d over a second
    longer and is stopped by SIGINT at its length; wrk then reports over its own clock, so
    the rate stays requests / measured time even if the signal comes late."""
    if float(duration_s).is_integer():
        return int(duration_s), None
    return math.ceil(duration_s) + 1, duration_s


def run_wrk(
    base_url: str, scenario: Scenario, connections: int, duration_s: float, max_id: int, seed: int,
    server_processes: list[psutil.Process] | None, pinning: Pinning | None = None,
    postmaster_pid: int | None = None,
    usernames: Path | None = None, proxy_processes: list[psutil.Process] | None = None,
    max_post_id: int = 0, queries_n: int = 20,
) -> dict:
    """One wrk run; returns its numbers plus the CPU each party used meanwhile (Parties).
    `usernames` is the file of usernames_file()."""
    threads = min(scenario.threads, connections)
    with tempfile.TemporaryDirectory(prefix="dbbench-wrk-") as tmp:
        script = build_script(scenario, Path(tmp))
        out = Path(tmp) / "wrk.json"
        whole_s, interrupt_after = wrk_duration(duration_s)
        argv = [
            wrk_binary(), f"-t{threads}", f"-c{connections}", f"-d{whole_s}s",
            f"--timeout={WRK_TIMEOUT_S}s", "-s", str(script), base_url,
        ]
        env = lua_environment(scenario, out, max_id, seed, usernames, max_post_id, queries_n)
        log = Path(tmp) / "wrk.log"
        ran = run_generator(argv, env, pinning.wrk if pinning else None, log, whole_s + WRK_TIMEOUT_S + 30,
                            Parties(server_processes, postmaster_pid, proxy_processes), interrupt_after)
        if ran.returncode != 0 or not out.exists():
            raise DbbenchError(f"wrk failed (exit {ran.returncode}): {log_tail(log)}")
        report = json.loads(out.read_text())
    shown_argv = [Path(arg).name if arg == str(script) else arg for arg in argv]
    shown_argv[0] = "wrk"
    return summarize_wrk(report, shown_argv, ran.elapsed_s, scenario, {"wrk": ran.cpu_s, **ran.parties})


WAIT_LOOK_S = 0.25  # how soon a wait notices that we were told to stop (SIGTERM, Ctrl-C)


def wait_with_usage(process: subprocess.Popen, timeout: float, name: str = "wrk",
                    interrupt_at: float | None = None,
                    still_running: Callable[[], None] | None = None) -> tuple[int, float]:
    """Reap the generator with wait4, which also gives the CPU seconds it used; SIGINT it at
    `interrupt_at` (monotonic), kill it past timeout. Sleeps on the process's pidfd, so it
    wakes the moment the generator exits or its signal is due, and otherwise only every
    WAIT_LOOK_S to notice our own interruption: the 10 ms look it replaces woke this process
    100 times a second beside every slice."""
    deadline = time.monotonic() + timeout
    exited = os.pidfd_open(process.pid)
    try:
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                process.returncode = os.waitstatus_to_exitcode(status)
                return process.returncode, round(usage.ru_utime + usage.ru_stime, 3)
            now = time.monotonic()
            if now > deadline:
                raise DbbenchError(f"{name} did not finish within {timeout:.0f} s")
            if interrupt_at is not None and now >= interrupt_at:
                process.send_signal(signal.SIGINT)
                interrupt_at = None
            supervise.raise_if_interrupted()
            if still_running is not None:
                still_running()
            wake = min(deadline, interrupt_at if interrupt_at is not None else deadline, now + WAIT_LOOK_S)
            select.select([exited], [], [], max(0.0, wake - now))
    except BaseException:
        if process.returncode is None:
            process.kill()
            process.wait()
        raise
    finally:
        os.close(exited)


def unexpected_statuses(report: dict, scenario: Scenario) -> int:
    """wrk counts every status >= 400 as an error. In a mix with unknown users, 404s up to
    the number of such requests sent are the expected answers; anything else is not."""
    status_errors = report["errors"]["status"]
    if not (scenario.weights or {}).get("missing"):
        return status_errors
    statuses = {int(code): n for code, n in report.get("statuses", {}).items()}
    not_found = statuses.get(404, 0)
    return status_errors - not_found + max(0, not_found - report.get("sent", {}).get("missing", 0))


def summarize_wrk(report: dict, argv: list[str], elapsed: float, scenario: Scenario, cpu: dict) -> dict:
    duration = report["duration_us"] / 1e6
    errors = report["errors"]
    socket_errors = errors["connect"] + errors["read"] + errors["write"] + errors["timeout"]
    latency = report["latency_us"]
    mix = {"sent": report["sent"], "statuses": report["statuses"]} if report.get("sent") else {}
    return {
        "requests": report["requests"],
        "duration_s": round(duration, 4),
        "rps": round(report["requests"] / duration, 2) if duration else 0.0,
        "errors": socket_errors,
        "errors_by_kind": {k: errors[k] for k in ("connect", "read", "write", "timeout")},
        "non_2xx": unexpected_statuses(report, scenario),
        **mix,
        "latency_ms": {
            **{f"p{p}": round(latency["percentiles"][p] / 1000, 3) for p in PERCENTILES},
            "mean": round(latency["mean"] / 1000, 3),
            "max": round(latency["max"] / 1000, 3),
        },
        "cpu_seconds": cpu,
        "wall_s": round(elapsed, 3),
        "wrk_args": argv,
    }
