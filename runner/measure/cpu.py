"""Whose CPU a slice accounts for, and where each party runs: the cell's processes, the embedded
cluster's postmaster and backends, toxiproxy; disjoint cores for them where the machine has enough."""

from __future__ import annotations

import os
from dataclasses import dataclass

import psutil

from runner.measure import noise


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
