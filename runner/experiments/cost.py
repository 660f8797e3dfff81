"""dbbench cost: what a request costs the CPU, in instructions, counted by callgrind.

Each cell's server runs under callgrind with one worker, not instrumented until it has started
and been verified. Once warm, it is sent a few and then many of the scenario's requests, one
after the other, its counters zeroed before each batch and dumped after it: the difference
between the two batches over the difference in requests is what one request costs, start-up and
each batch's fixed part cancelled. The two batch sizes alternate in order over the repeats,
whose spread the report shows. PostgreSQL is not counted in instructions: its backends' CPU time
(the scheduler's, per process) is taken over the same batches, by the same difference."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psutil
import psycopg

from runner.base import instants, paths
from runner.base.console import err
from runner.base.errors import DbbenchError
from runner.base.scenarios import Scenario
from runner.cells import builds, catalog, lifecycle
from runner.db import clusterlock, database, roles, seeding
from runner.experiments import sequence
from runner.measure import callgrind, metadata, wrk
from runner.measure.plan import Instance, file_slug, members_of
from runner.report import cost as cost_page
from runner.report import results
from runner.verify import verifier

HASH_SEED = "0"  # the same dict layouts in every process, so that repeats count the same work
# Go's preemption by signal (SIGURG) made callgrind 3.19 fail an assertion in gin/raw here; a server
# with GOMAXPROCS=1 answering one request at a time has nothing to preempt.
GO_UNDER_CALLGRIND = {"GODEBUG": "asyncpreemptoff=1"}
# Go's garbage collector runs by heap growth: over 500 of gin/raw's requests one collection more or
# less moved the count by ±8% here. A Go request costs a tenth of a Python one, so Go gets ten times
# the requests in each batch, for about the same time.
GO_BATCH_SCALE = 10
WRK_SEED = 1  # the same requests in every batch: the many begin with the few
TOP_FUNCTIONS = 40
# The first zeroing of a Python server's counters was followed here by instructions of its own
# (none of them a garbage collection) whether a request came or not: 11M in fastapi/raw's idle
# second after it, and 20-37M more in the default Python cells' first batches than in the next;
# an idle second took most of them, not all. Sanic's first
# batch of the many then held 6M more than the next ones. So a first repeat's worth of batches,
# the few and the many, and this long idle, is counted and discarded.
SETTLE_S = 1.0
TAIL_S = 0.5  # after a batch, the tail of its work is counted in it


@dataclass
class CostOptions:
    cells: list[catalog.Cell]
    scenario: Scenario
    counts: tuple[int, int]  # the few and the many requests of a repeat
    repeats: int
    warmup: int  # requests before the first count (the interpreter specialises, caches fill)
    pool_size: int
    db_url: str | None
    out: Path | None
    queries_n: int = 20
    start_timeout_s: float = 300  # a Python server's imports under callgrind: about 20 s here, Django's 60
    minimal: bool = False  # each cell followed by its minimal app (apps/minimal/), counted the same way
    connections: int = 1  # requests in flight at once: a run's load keeps 64, and one at a time a Python
    # server's garbage collector may never run


@dataclass
class Target:
    """What every cell of one run is counted against."""

    url: str
    users: int
    max_post_id: int
    usernames: Path | None
    postgres_local: bool


def unit_of(obj: str, function: str, go: bool) -> str:
    """Where an instruction ran, as stored: a Go program's package ("go:net/http"), else the object
    file, shortened to what names it ("site-packages/asyncpg/protocol/…so", "libc.so.6")."""
    if go and not obj.endswith((".so", ".so.6")) and ".so." not in obj:
        head = function.split("(", 1)[0]
        slash = head.rfind("/")
        dot = function.find(".", slash + 1)
        return f"go:{function[:dot] if dot > 0 else function}"
    for marker in ("site-packages/", "lib-dynload/"):
        if marker in obj:
            return marker + obj.split(marker, 1)[1]
    return obj.rsplit("/", 1)[-1]


def command_of(words: list[str]) -> str:
    """A process's command line without valgrind's words before it, its program by name alone."""
    start = next((index for index, word in enumerate(words[1:], 1) if not word.startswith("--")), 0)
    shown = words[start:] if "valgrind" in Path(words[0]).name else words
    return " ".join([Path(shown[0]).name, *shown[1:]]) if shown else ""


def backend_pids(conn, role: str | None) -> list[int]:
    """The PostgreSQL backends serving the cell: its role's (else every client's but ours)."""
    if role:
        rows = conn.execute("SELECT pid FROM pg_stat_activity WHERE usename = %s", (role,)).fetchall()
    else:
        rows = conn.execute("SELECT pid FROM pg_stat_activity WHERE backend_type = 'client backend' "
                            "AND pid <> pg_backend_pid()").fetchall()
    return [row[0] for row in rows]


def cpu_ns(pids: list[int]) -> dict[int, int]:
    """Each process's time on a CPU so far, in ns (/proc/PID/schedstat, which ticks do not round)."""
    found = {}
    for pid in pids:
        try:
            found[pid] = int(Path(f"/proc/{pid}/schedstat").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            continue
    return found


def postgres_is_local(url: str) -> bool:
    """PostgreSQL's backends are processes of this host that we can read (our own backend is one)."""
    try:
        with database.connect(url) as conn:
            pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
        return psutil.Process(pid).name() in ("postgres", "postmaster")
    except (psutil.Error, psycopg.Error, DbbenchError):
        return False


class Counting:
    """One cell under callgrind: its batches counted, each dump read and removed once read."""

    def __init__(self, cell: catalog.Cell, process: lifecycle.CellProcess, directory: Path, options: CostOptions,
                 target: Target, login: roles.Login):
        self.cell, self.process, self.directory, self.options = cell, process, directory, options
        self.target, self.login = target, login
        self.pids: list[int] = []
        self.dumped: dict[int, int] = {}
        scale = 1 if cell.is_python else GO_BATCH_SCALE
        self.counts = (options.counts[0] * scale, options.counts[1] * scale)

    def settle(self) -> None:
        self.send(self.counts[0])
        self.send(self.counts[1])
        time.sleep(SETTLE_S)

    def still_running(self) -> None:
        """Raise with valgrind's last word if the server died (callgrind may fail an assertion)."""
        if not self.process.alive() or not all(psutil.pid_exists(pid) for pid in self.pids):
            said = [line.split("== ", 1)[-1].strip() for log in self.directory.glob("valgrind.*.log")
                    for line in log.read_text(errors="replace").splitlines()
                    if "Assertion" in line or "Killed" in line or "terminat" in line]
            raise DbbenchError(f"the server exited under callgrind (code {self.process.process.returncode})"
                               + (f": {said[-1]}" if said else f": {self.process.log_tail()}"))

    def send(self, requests: int) -> None:
        answered = wrk.send_counted(self.process.base_url, self.options.scenario, requests, self.target.users,
                                    WRK_SEED, self.target.usernames, self.target.max_post_id, self.options.queries_n,
                                    still_running=self.still_running, connections=self.options.connections)
        statuses = {int(code): n for code, n in answered["statuses"].items()}
        unexpected = wrk.unexpected_statuses(
            {"errors": {"status": sum(n for code, n in statuses.items() if code >= 400)}, **answered},
            self.options.scenario)
        if answered["answered"] != requests or unexpected:
            raise DbbenchError(f"{unexpected} unexpected answers of {answered['answered']} "
                               f"(statuses {dict(sorted(statuses.items()))})")

    def batch(self, requests: int, conn) -> dict:
        """One batch counted: each process's instructions, by unit and by function, and the CPU time
        of the cell's backends meanwhile."""
        if sorted(proc.pid for proc in self.process.processes()) != sorted(self.pids):
            raise DbbenchError("the server's processes changed while it was counted (a worker restarted)")
        backends = backend_pids(conn, self.login.role) if self.target.postgres_local else []
        times = {}

        def send() -> None:
            times["before"] = cpu_ns(backends)
            self.send(requests)
            time.sleep(TAIL_S)
            times["after"] = cpu_ns(backends)

        dumps = callgrind.batch(self.pids, self.directory, self.dumped, send)
        go = not self.cell.is_python
        return {"requests": requests,
                "instructions": {pid: dump.total for pid, dump in dumps.items()},
                "units": {pid: dump.by(lambda obj, fn: unit_of(obj, fn, go)) for pid, dump in dumps.items()},
                "functions": {pid: dump.by(lambda obj, fn: f"{fn} [{unit_of(obj, fn, False)}]")
                              for pid, dump in dumps.items()},
                "postgres_cpu_ns": sum(times["after"][pid] - times["before"][pid] for pid in times["after"]
                                       if pid in times["before"]) if self.target.postgres_local else None}

    def repeat(self, number: int, conn) -> dict:
        few, many = self.counts
        order = (few, many) if number % 2 == 0 else (many, few)
        batches = {requests: self.batch(requests, conn) for requests in order}
        extra = many - few
        per_process = {pid: (batches[many]["instructions"][pid] - batches[few]["instructions"][pid]) / extra
                       for pid in self.pids}
        serving = max(per_process, key=per_process.get)
        units = Counter(batches[many]["units"][serving])
        units.subtract(batches[few]["units"][serving])
        functions = Counter(batches[many]["functions"][serving])
        functions.subtract(batches[few]["functions"][serving])
        pg_few, pg_many = batches[few]["postgres_cpu_ns"], batches[many]["postgres_cpu_ns"]
        return {
            "order": list(order),
            "instructions": {str(requests): {str(pid): n for pid, n in batch["instructions"].items()}
                             for requests, batch in batches.items()},
            "serving_pid": serving,
            "instructions_per_request": round(per_process[serving], 1),
            "other_processes_per_request": round(sum(v for pid, v in per_process.items() if pid != serving), 1),
            "postgres_cpu_us_per_request": None if pg_few is None else round((pg_many - pg_few) / extra / 1000, 2),
            "by_unit": {unit: round(count / extra, 1) for unit, count in units.most_common() if count},
            "top_functions": {name: round(count / extra, 1) for name, count in functions.most_common(TOP_FUNCTIONS)},
        }


def count_cell(member: Instance, options: CostOptions, target: Target, run_dir: Path,
               keep: Callable[[dict], None]) -> dict:
    """The cell (or its minimal app) started under callgrind, verified, warmed, then its repeats; a
    failure is recorded with its reason and the run goes on; an interruption `keep`s what was
    counted and ends it."""
    cell, name = member.cell, member.name
    record = {"name": name, "status": "ok", "reason": None, "repeats": [], "processes": {}}
    if member.minimal:
        record["minimal"] = {"app": member.minimal.app, "of": cell.name, "follows": member.minimal.follows,
                             "server": member.minimal.server}
    directory = run_dir / "callgrind" / file_slug(name)
    directory.mkdir(parents=True, exist_ok=True)
    process = lifecycle.CellProcess.on_free_port(
        cell, workers=1, pool_size=options.pool_size, log_path=run_dir / "logs" / f"{file_slug(name)}.log",
        users=target.users, wrap=tuple(callgrind.wrapper(directory)), minimal=member.minimal,
        extra_env={"PYTHONHASHSEED": HASH_SEED} if cell.is_python else GO_UNDER_CALLGRIND)
    try:
        if member.minimal:
            builds.build(cell, minimal=True)
        login = roles.login_for(target.url, target.url, f"{name} cost")
        with process, database.connect(target.url) as conn:
            process.start(login.url)
            try:
                process.wait_ready(options.start_timeout_s)
            except DbbenchError as exc:
                raise DbbenchError(f"under callgrind, {exc}") from None
            # Values, statuses and statements are verified; the pool's size is not: under callgrind a
            # pool does not always hold its whole size (sanic/sa-orm held 2 of its 4 when it first
            # answered, and 3 after 300 s more; 4 in every run outside callgrind, cause not found),
            # and one request at a time needs one connection, whatever the pool.
            verdict = verifier.verify_running(process, target.url, login, count_pool=False,
                                              endpoints=options.scenario.endpoints,
                                              weights=options.scenario.endpoint_weights)
            record["verification"] = verdict.as_dict()
            record["statements_per_request"] = verdict.statements_per_request
            if not verdict.ok:
                raise DbbenchError(f"verification: {verdict.first_failure}")
            counting = Counting(cell, process, directory, options, target, login)
            record["requests"] = {"few": counting.counts[0], "many": counting.counts[1]}
            counting.pids = [proc.pid for proc in process.processes()]
            callgrind.control("instrument", counting.pids)
            counting.send(options.warmup)
            callgrind.batch(counting.pids, directory, counting.dumped, counting.settle)
            record["processes"] = {str(proc.pid): command_of(proc.cmdline()) for proc in process.processes()}
            for number in range(options.repeats):
                record["repeats"].append(counting.repeat(number, conn))
                err.print(f"{name}: repeat {number + 1} of {options.repeats}: "
                          f"{record['repeats'][-1]['instructions_per_request']:,.0f} instructions per request")
    except (DbbenchError, psycopg.Error, psutil.Error) as exc:
        said = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        record.update(status="failed", reason=database.scrub(said, target.url))
        err.print(f"{name}: failed: {record['reason']}")
    except KeyboardInterrupt:
        record.update(status="interrupted", reason="the run was stopped while this cell was counted")
        keep(record)  # its finished repeats are kept
        raise
    finally:
        for leftover in directory.glob("callgrind.*"):
            leftover.unlink()
    return record


def run_cost(options: CostOptions) -> tuple[Path, dict]:
    """Every selected cell in turn; the results file is rewritten after each."""
    valgrind = callgrind.version()
    wrk.wrk_binary()
    url, embedded = database.database_url(options.db_url)
    seeded = seeding.ensure_seeded(url, log=err.print)
    scenario = options.scenario
    if scenario.writes:
        seeding.restore_seeded(url)
    usernames = wrk.usernames_file(url, seeded.checksum) if "by-username" in scenario.endpoints else None
    target = Target(url, seeded.users, seeded.posts, usernames, postgres_is_local(url))
    run_dir = results.new_run_dir((options.out or paths.REPO / "results") / "cost")
    few, many = options.counts
    document = {
        "kind": "cost", "schema_version": 1, "complete": False,
        "metadata": {"project": metadata.collect_project(), "machine": metadata.collect_machine(),
                     "postgres": metadata.collect_postgres(url, embedded), "cluster_lock": clusterlock.current(),
                     "cost": {"started_at": instants.utc_now(), "tool": valgrind, "scenario": scenario.name,
                              "requests": {"few": few, "many": many}, "go_batch_scale": GO_BATCH_SCALE,
                              "repeats": options.repeats,
                              "warmup_requests": options.warmup, "workers": 1, "pool_size": options.pool_size,
                              "python_hash_seed": int(HASH_SEED), "go_environment": GO_UNDER_CALLGRIND,
                              "wrk_seed": WRK_SEED, "start_timeout_s": options.start_timeout_s,
                              "minimal_apps": options.minimal, "connections": options.connections,
                              "postgres_counted": "CPU time of the cell's backends (/proc/PID/schedstat)"
                              if target.postgres_local else None}},
        "cells": [],
    }
    path = run_dir / "cost.json"
    try:
        sequence.cell_by_cell(members_of(options.cells, 1, parity=options.minimal), document, path, "cost",
                              lambda member: count_cell(member, options, target, run_dir, document["cells"].append),
                              empty={"repeats": []})
    finally:  # what was counted gets its page, however the run ends
        (run_dir / "cost.md").write_text(cost_page.render(document))
        if scenario.writes:
            seeding.restore_seeded(url)
    return path, document
