"""The load stage: scenarios, wrk runs reported through a Lua done() hook, CPU accounting.

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
import tomllib
from dataclasses import dataclass
from pathlib import Path

import psutil

from runner.base import paths, supervise
from runner.base.errors import DbbenchError
from runner.db import database
from runner.measure import noise

PRELUDE_LUA = Path(__file__).with_name("wrk_prelude.lua")
REPORT_LUA = Path(__file__).with_name("wrk_report.lua")
WRK_TIMEOUT_S = 5
MIN_SLICE_S = 0.25
MAX_SLICE_S = 3600
PERCENTILES = ("50", "75", "90", "99", "99.9")


ENDPOINTS = ("by-id", "by-username", "page", "edit", "user-posts", "feed", "queries")
# Served by the variants that declare how many lookups each of these sends (apps/cells.toml).
RELATION_ENDPOINTS = ("user-posts", "feed")
REQUEST_KINDS = (*ENDPOINTS, "missing")  # a mix may also ask for users that do not exist


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    script: Path
    connections: int
    threads: int
    slice_s: int | float  # one measured slice; a cell is measured in many, interleaved with the others
    warmup_s: int  # once, when the cell first starts (it stays up afterwards)
    primer_s: int
    endpoints: tuple[str, ...]  # what the verifier checks before the scenario measures a cell
    writes: bool  # the seeded data is put back after it runs
    weights: dict[str, int] | None = None  # a mix: request kind -> share in percent

    @property
    def endpoint_weights(self) -> dict[str, float] | None:
        """The mix's shares by endpoint: a missing user is a lookup by id or by username, half each."""
        if not self.weights:
            return None
        shares = {endpoint: float(self.weights.get(endpoint, 0)) for endpoint in self.endpoints}
        missing = self.weights.get("missing", 0) / 2
        for endpoint in ("by-id", "by-username"):
            if endpoint in shares:
                shares[endpoint] += missing
        return shares

    def lua_environment(self) -> dict[str, str]:
        """The mix's weights for its Lua script, as DBBENCH_WEIGHTS=kind:share,..."""
        if not self.weights:
            return {}
        return {"DBBENCH_WEIGHTS": ",".join(f"{kind}:{share}" for kind, share in self.weights.items())}


def scenario_names() -> list[str]:
    return sorted(path.stem for path in paths.SCENARIOS_DIR.glob("*.toml"))


def load_scenario(name: str) -> Scenario:
    path = paths.SCENARIOS_DIR / f"{name}.toml"
    if not path.exists():
        raise DbbenchError(f"unknown scenario {name!r} (known: {', '.join(scenario_names())})")
    try:
        data = tomllib.loads(path.read_text())
        scenario = Scenario(
            name=data["name"], description=data["description"], script=path.with_name(data["script"]),
            connections=int(data["connections"]), threads=int(data["threads"]),
            slice_s=whole_or_fraction(float(data["slice_s"])),
            warmup_s=int(data["warmup_s"]), primer_s=int(data["primer_s"]),
            endpoints=tuple(data["endpoints"]), writes=bool(data.get("writes", False)),
            weights={kind: int(share) for kind, share in data["weights"].items()} if "weights" in data else None,
        )
    except (tomllib.TOMLDecodeError, KeyError, ValueError, TypeError, AttributeError) as exc:
        raise DbbenchError(f"scenario file {path.name} is invalid: {exc}") from None
    check_scenario(scenario, path)
    return scenario


def whole_or_fraction(seconds: float) -> int | float:
    """1 stays 1 (shown and stored as "1 s", as before), 0.5 stays 0.5."""
    return int(seconds) if seconds.is_integer() else seconds


def slice_problem(seconds: float) -> str | None:
    """What is wrong with a slice length, or None: the one rule for --slice and slice_s. From
    MIN_SLICE_S, because wrk stops on its 100 ms ticks and the runner spends about 0.1 s
    between slices, so shorter ones would be mostly overhead."""
    if MIN_SLICE_S <= seconds <= MAX_SLICE_S:  # also false for nan and inf
        return None
    return f"must be between {MIN_SLICE_S:g} s and an hour, not {seconds:g}"


def check_scenario(scenario: Scenario, path: Path) -> None:
    problems = [f"unknown endpoint {endpoint!r}" for endpoint in scenario.endpoints if endpoint not in ENDPOINTS]
    if (problem := slice_problem(scenario.slice_s)) is not None:
        problems.append(f"slice_s {problem}")
    if not scenario.endpoints:
        problems.append("no endpoints")
    if not scenario.script.exists():
        problems.append(f"no script {scenario.script.name}")
    if scenario.weights is not None:
        problems += [f"unknown request kind {kind!r}" for kind in scenario.weights if kind not in REQUEST_KINDS]
        if sum(scenario.weights.values()) != 100 or min(scenario.weights.values()) < 0:
            problems.append(f"weights must be shares that add up to 100, not {scenario.weights}")
    if "edit" in scenario.endpoints and not scenario.writes:
        problems.append("a scenario with edits must say writes = true")
    if problems:
        raise DbbenchError(f"scenario file {path.name} is invalid: {'; '.join(problems)}")


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


def build_script(scenario: Scenario, directory: Path) -> Path:
    """The scenario's Lua between the shared prelude (seeds, counters, helpers) and the
    JSON report hook."""
    target = directory / f"{scenario.name}.lua"
    target.write_text("\n".join(path.read_text() for path in (PRELUDE_LUA, scenario.script, REPORT_LUA)))
    return target


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


def cpu_seconds(processes: list[psutil.Process]) -> dict[int, float]:
    """User+system CPU seconds by pid; processes that vanished are left out."""
    seconds = {}
    for proc in processes:
        try:
            times = proc.cpu_times()
            seconds[proc.pid] = times.user + times.system
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return seconds


def postgres_processes(postmaster_pid: int) -> list[psutil.Process]:
    """Our embedded cluster's postmaster and its backends."""
    try:
        postmaster = psutil.Process(postmaster_pid)
        return [postmaster, *postmaster.children()]
    except psutil.NoSuchProcess:
        return []


def used_cpu(before: dict[int, float], after: dict[int, float]) -> float:
    return sum(after[pid] - before.get(pid, 0.0) for pid in after)


@dataclass
class Pinning:
    """Disjoint cores for server, wrk and PostgreSQL, where the machine has enough."""

    server: list[int] | None = None
    wrk: list[int] | None = None
    postgres: list[int] | None = None
    note: str = ""
    postmaster_pid: int | None = None

    @classmethod
    def plan(cls, server_cpus: int, wrk_threads: int, postmaster_pid: int | None) -> Pinning:
        """Only our own embedded cluster (postmaster_pid given) is ever pinned."""
        cores = sorted(os.sched_getaffinity(0))
        needed = server_cpus + wrk_threads + 1
        if len(cores) < needed:
            return cls(note=(
                f"not pinned: {len(cores)} cores, {needed} needed for disjoint server ({server_cpus}), "
                f"wrk ({wrk_threads}) and PostgreSQL (1+); they share the cores"
            ))
        server = cores[:server_cpus]
        wrk = cores[server_cpus:server_cpus + wrk_threads]
        postgres = cores[server_cpus + wrk_threads:]
        if postmaster_pid is None:
            return cls(server=server, wrk=wrk, note="server and wrk pinned; external PostgreSQL not pinned")
        return cls(server=server, wrk=wrk, postgres=postgres, postmaster_pid=postmaster_pid,
                   note=f"pinned: server {server}, wrk {wrk}, PostgreSQL {postgres}")

    def apply(self, server_processes: list[psutil.Process] | None, server_cpus: int | None = None) -> None:
        """Pin the cell's processes (to its first `server_cpus` of the server's cores: a
        server-cpus sweep's instance gets its own count), and our cluster's (new backends
        inherit the postmaster's)."""
        pg = postgres_processes(self.postmaster_pid) if self.postgres else []
        server = self.server[:server_cpus] if self.server and server_cpus else self.server
        for cores, procs in ((server, server_processes or []), (self.postgres, pg)):
            set_affinity(procs, cores)

    def release(self) -> None:
        """Give our cluster every core back when the run ends."""
        if self.postgres:
            set_affinity(postgres_processes(self.postmaster_pid), sorted(os.sched_getaffinity(0)))


def set_affinity(processes: list[psutil.Process], cores: list[int] | None) -> None:
    if not cores:
        return
    for proc in processes:
        try:
            proc.cpu_affinity(cores)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue


@dataclass
class Parties:
    """Whose CPU a measurement accounts for besides the load generator: the cell's processes
    (None for a remote cell: unknown), our embedded cluster's (postmaster_pid given; an
    external server's is unknown) and, with --db-latency, toxiproxy's as a party of its own."""

    server: list[psutil.Process] | None
    postmaster_pid: int | None = None
    proxy: list[psutil.Process] | None = None

    def snapshot(self) -> dict[str, dict[int, float]]:
        """CPU seconds by pid for each party, from one look at every process: with a hundred
        or more backends up (several warm cells' pools), psutil's children() and cpu_times()
        took 14 ms a look here, this 2.6 ms, and a slice takes two."""
        seen = noise.process_times()

        def seconds(pids: set[int]) -> dict[int, float]:
            return {pid: seen[pid].cpu_s for pid in pids if pid in seen}

        postgres = noise.descendants(seen, {self.postmaster_pid}) if self.postmaster_pid is not None else set()
        return {"server": seconds({p.pid for p in self.server or []}), "postgres": seconds(postgres),
                "proxy": seconds({p.pid for p in self.proxy or []})}

    def used(self, before: dict[str, dict[int, float]]) -> dict[str, float | None]:
        after = self.snapshot()

        def spent(party: str) -> float:
            return round(used_cpu(before[party], after[party]), 3)

        return {
            "server": spent("server") if self.server is not None else None,
            "postgres": spent("postgres") if self.postmaster_pid is not None else None,
            **({"proxy": spent("proxy")} if self.proxy is not None else {}),
        }


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
        env = {**os.environ, "DBBENCH_WRK_OUT": str(out), "DBBENCH_MAX_ID": str(max_id),
               "DBBENCH_MAX_POST_ID": str(max_post_id), "DBBENCH_QUERIES": str(queries_n),
               "DBBENCH_SEED": str(seed), **scenario.lua_environment()}
        if usernames is not None:
            env["DBBENCH_USERNAMES"] = str(usernames)
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
                    interrupt_at: float | None = None) -> tuple[int, float]:
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
