"""The load stage: scenarios, wrk runs reported through a Lua done() hook, CPU accounting.

wrk is closed-loop: each connection waits for its response before sending the next, so
its latency percentiles at saturation understate the tail (coordinated omission). They
are stored and shown as what they are.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

import psutil

from runner import paths, supervise
from runner.errors import DbbenchError

REPORT_LUA = Path(__file__).with_name("wrk_report.lua")
WRK_TIMEOUT_S = 5
PERCENTILES = ("50", "75", "90", "99", "99.9")


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    script: Path
    connections: int
    threads: int
    slice_s: int  # one measured slice; a cell is measured in many, interleaved with the others
    warmup_s: int  # once, when the cell first starts (it stays up afterwards)
    primer_s: int


def scenario_names() -> list[str]:
    return sorted(path.stem for path in paths.SCENARIOS_DIR.glob("*.toml"))


def load_scenario(name: str) -> Scenario:
    path = paths.SCENARIOS_DIR / f"{name}.toml"
    if not path.exists():
        raise DbbenchError(f"unknown scenario {name!r} (known: {', '.join(scenario_names())})")
    try:
        data = tomllib.loads(path.read_text())
        return Scenario(
            name=data["name"], description=data["description"], script=path.with_name(data["script"]),
            connections=int(data["connections"]), threads=int(data["threads"]),
            slice_s=int(data["slice_s"]), warmup_s=int(data["warmup_s"]), primer_s=int(data["primer_s"]),
        )
    except (tomllib.TOMLDecodeError, KeyError, ValueError) as exc:
        raise DbbenchError(f"scenario file {path.name} is invalid: {exc}") from None


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
    """The scenario's Lua with the shared JSON report hook appended."""
    target = directory / f"{scenario.name}.lua"
    target.write_text(scenario.script.read_text() + "\n" + REPORT_LUA.read_text())
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

    def apply(self, server_processes: list[psutil.Process]) -> None:
        """Pin the cell's processes, and our cluster's (new backends inherit the postmaster's)."""
        pg = postgres_processes(self.postmaster_pid) if self.postgres else []
        for cores, procs in ((self.server, server_processes), (self.postgres, pg)):
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


def run_wrk(
    base_url: str, scenario: Scenario, connections: int, duration_s: int, max_id: int, seed: int,
    server_processes: list[psutil.Process], pinning: Pinning | None = None, postmaster_pid: int | None = None,
) -> dict:
    """One wrk run; returns its numbers plus the CPU each party used meanwhile.

    PostgreSQL's CPU is measured for our embedded cluster (postmaster_pid given) only;
    an external server's is unknown (None)."""
    measure_postgres = postmaster_pid is not None
    threads = min(scenario.threads, connections)
    with tempfile.TemporaryDirectory(prefix="dbbench-wrk-") as tmp:
        script = build_script(scenario, Path(tmp))
        out = Path(tmp) / "wrk.json"
        argv = [
            wrk_binary(), f"-t{threads}", f"-c{connections}", f"-d{duration_s}s",
            f"--timeout={WRK_TIMEOUT_S}s", "-s", str(script), base_url,
        ]
        env = {**os.environ, "DBBENCH_WRK_OUT": str(out), "DBBENCH_MAX_ID": str(max_id),
               "DBBENCH_SEED": str(seed)}
        pg_procs = postgres_processes(postmaster_pid) if measure_postgres else []
        server_before, pg_before = cpu_seconds(server_processes), cpu_seconds(pg_procs)
        started = time.monotonic()
        wrk_cores = pinning.wrk if pinning else None
        log = Path(tmp) / "wrk.log"
        on_parent_death = supervise.die_with_parent(os.getpid())

        def preexec() -> None:
            on_parent_death()
            if wrk_cores:
                os.sched_setaffinity(0, wrk_cores)

        with log.open("wb") as log_handle:
            process = subprocess.Popen(argv, env=env, stdout=log_handle, stderr=subprocess.STDOUT, preexec_fn=preexec)
        returncode, wrk_cpu = wait_with_usage(process, duration_s + WRK_TIMEOUT_S + 30)
        elapsed = time.monotonic() - started
        server_after, pg_after = cpu_seconds(server_processes), cpu_seconds(pg_procs)
        if returncode != 0 or not out.exists():
            tail = " | ".join(log.read_text(errors="replace").strip().splitlines()[-3:])
            raise DbbenchError(f"wrk failed (exit {returncode}): {tail or 'no output'}")
        report = json.loads(out.read_text())
    shown_argv = [Path(arg).name if arg == str(script) else arg for arg in argv]
    shown_argv[0] = "wrk"
    return summarize_wrk(report, shown_argv, elapsed, {
        "wrk": wrk_cpu,
        "server": round(used_cpu(server_before, server_after), 3),
        "postgres": round(used_cpu(pg_before, pg_after), 3) if measure_postgres else None,
    })


def wait_with_usage(process: subprocess.Popen, timeout: float) -> tuple[int, float]:
    """Reap wrk with wait4, which also gives the CPU seconds it used; kill it past timeout."""
    deadline = time.monotonic() + timeout
    try:
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                process.returncode = os.waitstatus_to_exitcode(status)
                return process.returncode, round(usage.ru_utime + usage.ru_stime, 3)
            if time.monotonic() > deadline:
                raise DbbenchError(f"wrk did not finish within {timeout:.0f} s")
            time.sleep(0.05)
    except BaseException:
        if process.returncode is None:
            process.kill()
            process.wait()
        raise


def summarize_wrk(report: dict, argv: list[str], elapsed: float, cpu: dict) -> dict:
    duration = report["duration_us"] / 1e6
    errors = report["errors"]
    socket_errors = errors["connect"] + errors["read"] + errors["write"] + errors["timeout"]
    latency = report["latency_us"]
    return {
        "requests": report["requests"],
        "duration_s": round(duration, 4),
        "rps": round(report["requests"] / duration, 2) if duration else 0.0,
        "errors": socket_errors,
        "errors_by_kind": {k: errors[k] for k in ("connect", "read", "write", "timeout")},
        "non_2xx": errors["status"],
        "latency_ms": {
            **{f"p{p}": round(latency["percentiles"][p] / 1000, 3) for p in PERCENTILES},
            "mean": round(latency["mean"] / 1000, 3),
            "max": round(latency["max"] / 1000, 3),
        },
        "cpu_seconds": cpu,
        "wall_s": round(elapsed, 3),
        "wrk_args": argv,
    }
