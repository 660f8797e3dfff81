"""The run: warm cells, many short interleaved slices, blocked estimates, a time budget.

Cells are started and verified once and stay up while their group is measured (a group is
as many cells as fit under max_connections; runner/measure/schedule.py). A cell gets its warm-up
only when it first starts. Each round then gives every live cell of the group one short
slice, in a fresh order shuffled from the recorded seed, and rounds are added until every
reported ratio is as precise as asked or the budget is spent. Every slice is stored raw
with the host's noise (runner/measure/noise.py); a round's disturbed slices are measured again at
its end while the budget allows, when they are a burst (`repeats_pay`). A slice first waits
until the requests the last load abandoned in its server are served (runner/measure/backlog.py). A
slice is wrk's closed loop, or with --rate oha at a constant rate (runner/measure/openloop.py); a
constant-rate run stops after its rounds, since there is no throughput ratio to make precise.

Faults: a cell that fails to start, fails verification, crashes or loses its load
generator is recorded with the reason and the others go on. PostgreSQL going away marks
the slices it spoiled and is waited for, for a bounded time; if it does not come back, the
run ends with its finished slices kept and says why. Ctrl-C and SIGTERM stop every process
the run started and keep what it finished."""

from __future__ import annotations

import contextlib
import os
import random
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from runner.base import instants, paths, supervise
from runner.base.console import err
from runner.base.errors import DbbenchError
from runner.cells import builds, lifecycle
from runner.db import database, pooler, proxy, roles, seeding
from runner.measure import backlog, between, document, noise, openloop, outages, plan, profile, schedule, wrk
from runner.measure.between import Between
from runner.measure.options import DEFAULT_BUDGET_CELLS, FAULT_AFTER_ROUND, RunOptions, default_budget
from runner.measure.placement import Here, Placement
from runner.measure.plan import Plan, available_connections, cell_record, held_connections, members_of
from runner.report import page, results, tables
from runner.verify import verifier

DATABASE_RECOVERY_S = 30  # how long PostgreSQL may be gone before the run ends (DBBENCH_DB_WAIT_S)
# The progress bar's redraws a second, beside every slice: rich's default 10 took 2.3% of a core
# in a timing on 6 December 2026 (Intel host, 5 s of a bar updated twice a second), 2 took 0.6%.
PROGRESS_REFRESH_PER_S = 2
# The time a slice takes beyond its length: the generator's start and stop, the backlog look
# and the runner's own work. Measured on 3 December 2026 (Intel host): 0.05-0.06 s quiet, 0.11 s
# on a noisier hour, 0.20 s under a steal median of 20%. It sizes the --rounds estimate and
# whether a repeat still fits before the deadline; the budget's stop uses each round's measured time.
SLICE_OVERHEAD_S = 0.15
FAULT_RECOVERY_TIMEOUT_S = 30.0


class DatabaseLost(DbbenchError):
    """PostgreSQL stopped answering and did not come back within the bound."""


def repeats_pay(disturbed: int, slices: int) -> bool:
    """A round's disturbed slices are measured again only when they are a burst: at most a
    third of the round, or one slice. When more were disturbed, the disturbance was the host's
    state, and a repeat would most likely be disturbed too (3 December 2026, Intel host, five
    default runs: 27% of the repeats of rounds with one or two of seven disturbed were
    disturbed again, 52-84% of those with three to seven; in two-instance A/As, 94% of the
    repeats of rounds with both disturbed). Those repeats took up to half of a run's slices."""
    return 0 < disturbed <= max(1, slices // 3)


class Run:
    def __init__(self, options: RunOptions, placement: Placement | None = None):
        self.options = options
        self.placement = placement or Here()
        self.plan = Plan.resolve(options)
        selected = options.selected_cells()
        self.members = {m.name: m for m in members_of(selected, options.instances, options.points, options.parity)}
        self.records = {name: cell_record(m, self.plan, options) for name, m in self.members.items()}
        self.run_dir = results.new_run_dir(options.out or paths.REPO / "results")
        self.results_path = self.run_dir / "results.json"
        self.document: dict | None = None
        self.rng = random.Random(self.plan.seed)
        self.started = time.monotonic()
        self.progress: Progress | None = None
        self.task = None
        self.between: Between | None = None  # toxiproxy and PgBouncer, where the run puts them in the path
        self.cell_host = self.placement.cell_host  # where the cells listen
        self.backlogs: list[backlog.Backlog | None] = []  # what the last loads left in their servers
        self.logins: dict[str, roles.Login] = {}  # each member's role, made at its first start
        self.up: dict[str, lifecycle.CellProcess] = {}  # the cells of the group being measured

    @property
    def meta(self) -> dict:
        return self.document["metadata"]["run"]

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    @property
    def slots(self) -> int:
        """Cells started over the run: the anchor counts once in every group."""
        return sum(len(group) for group in self.groups)

    # ------------------------------------------------------------- preparation

    def prepare(self) -> list[str]:
        """Database, environments, binaries, groups: the cells that can run, the others recorded.
        Whatever is built on first use is built here, before the budget's clock starts."""
        wrk.wrk_binary()
        if self.needs_proxy():
            proxy.binary()
        if self.options.pooler:
            pooler.binary()
        pooler.remove_abandoned()  # a PgBouncer auth file a killed run left: not kept until the next --pooler
        if self.options.profile:
            self.profiler = {"tool": "py-spy", "version": profile.version(), "rate_hz": profile.RATE_HZ,
                             "seconds": profile.QUICK_PROFILE_S if self.options.quick else profile.PROFILE_S}
        self.generator = openloop.version() if self.options.open_loop else None
        url, embedded = database.database_url(self.options.db_url)
        seeded = seeding.ensure_seeded(url, self.options.users, log=err.print)
        self.max_id = seeded.users
        self.max_post_id = seeded.posts
        self.url, self.embedded = url, embedded
        self.between = Between(url)
        self.restore_before = self.restore("before the run")
        scenario = self.plan.scenario
        self.usernames = wrk.usernames_file(url, seeded.checksum) if "by-username" in scenario.endpoints else None
        available, limit = available_connections(url)
        schedule.check_fits({name: held_connections(r) for name, r in self.records.items()}, available, limit)
        runnable = []
        for name, member in self.members.items():
            record = self.records[name]
            if record["status"] != "ok":
                continue
            if self.options.target:  # it runs on its own host: nothing of it is needed here
                runnable.append(name)
                continue
            ok, detail = builds.availability(member.cell)
            if not ok:
                record.update(status="skipped", reason=detail)
                continue
            unserved = member.cell.unserved(scenario.endpoints) or member.cell.redundant(scenario.endpoints)
            if unserved:
                record.update(status="skipped", reason=unserved)
                continue
            try:
                builds.build(member.cell, minimal=member.minimal is not None)
            except DbbenchError as exc:
                record.update(status="failed", reason=str(exc))
                continue
            runnable.append(name)
        if not runnable:
            raise DbbenchError("no selected cell can run here: " + "; ".join(
                f"{name}: {record['reason']}" for name, record in self.records.items()))
        self.runnable = runnable
        pairs = self.pairs(runnable)
        self.anchor = None if pairs else self.choose_anchor(runnable)
        needs = {name: held_connections(self.records[name]) for name in runnable}
        self.groups = schedule.plan_groups(needs, available, self.anchor, pairs)
        if not self.options.budget_s:
            self.plan.rule.budget_s = default_budget(self.options) * max(1.0, self.slots / DEFAULT_BUDGET_CELLS)
        self.postmaster_pid = database.EmbeddedCluster.default().postmaster_pid() if embedded else None
        self.pinning = self.placement.pinning(self, max(self.records[name]["server_cpus"] for name in runnable))
        self.document = document.new_document(self, runnable, available)
        if self.options.profile:
            self.meta["profiler"] = self.profiler
        self.placement.prepared(self)
        return runnable

    def pairs(self, runnable: list[str]) -> list[list[str]] | None:
        """A parity run's cells with their minimal apps, each pair a group of its own (with no anchor:
        each ratio it reports is within a pair); None in any other run."""
        if not self.options.parity:
            return None
        pairs: dict[str, list[str]] = {}
        for name in runnable:
            pairs.setdefault(self.members[name].cell.name, []).append(name)
        for cell, pair in pairs.items():
            if len(pair) == 1:  # its partner cannot run: measured alone it would give no ratio
                self.records[pair[0]].update(status="skipped", reason=f"the other of the pair ({cell}) cannot run here")
                runnable.remove(pair[0])
        if not runnable:
            raise DbbenchError("no pair of a cell and its minimal app can run here: " + "; ".join(
                f"{name}: {record['reason']}" for name, record in self.records.items()))
        return [pair for pair in pairs.values() if len(pair) == 2]

    def choose_anchor(self, runnable: list[str]) -> str:
        """The reference (Gin raw) where it runs, so that shares of it are measured directly."""
        for name in runnable:
            record = self.records[name]
            if record["reference"] and record["variant"] == "raw":
                return name
        return runnable[0]

    # ------------------------------------------------------------- the run

    def save(self, final: bool = False, slice_only: bool = False) -> None:
        """results.json after every slice (`slice_only`), on one line, so that a stopped run
        keeps every slice and the write stays short between slices; results.md after every
        round; at the end (`final`, also on a stop) results.json indented, the HTML page and the
        figures, which take seconds to draw and so never run between slices."""
        results.write(self.document, self.results_path, compact=not final)
        if slice_only:
            return
        try:
            (self.run_dir / "results.md").write_text(tables.render_markdown(self.document))
        except OSError as exc:
            raise DbbenchError(f"cannot write {self.run_dir / 'results.md'}: {exc.strerror}") from None
        if final and self.options.pages:
            page.write(self.document, self.run_dir)

    def expected_seconds(self) -> float:
        rule = self.plan.rule
        if rule.rounds is None:
            return rule.budget_s
        warm = self.plan.warmup_s + self.plan.primer_s  # a group's cells are warmed at once
        return self.slots * (rule.rounds * (self.plan.slice_s + SLICE_OVERHEAD_S) + 2) + len(self.groups) * warm

    def execute(self) -> Path:
        with self.placement.around():
            return self.prepare_and_measure()

    def prepare_and_measure(self) -> Path:
        self.prepare()
        self.run_dir.mkdir(parents=True, exist_ok=True)
        results.point_latest(self.run_dir)
        self.save()
        cells_up = self.meta["max_cells_up"]
        err.print(
            f"{len(self.document['cells'])} cells in {len(self.groups)} group(s) of up to {cells_up} up at once; "
            f"{self.stopping_text()}; slices of {self.plan.slice_s} s; about "
            f"{self.expected_seconds() / 60:.1f} min plus start-up; {self.pinning.note}"
        )
        err.print(f"results: {self.results_path}")
        self.started = time.monotonic()
        self.progress = Progress(
            TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), TextColumn("ETA"),
            TimeRemainingColumn(), console=err, transient=False,
            refresh_per_second=PROGRESS_REFRESH_PER_S,
        )
        failure: DbbenchError | None = None
        try:
            between.start_pooler(self)
            between.start_proxy(self)
            with self.progress:
                self.task = self.progress.add_task("starting", total=self.expected_seconds())
                remaining = self.slots
                for number, names in enumerate(self.groups, start=1):
                    deadline = self.plan.rule.share(self.elapsed(), len(names), remaining)
                    remaining -= len(names)
                    self.measure_group(number, names, deadline)
            reasons = sorted({group["stopped"] for group in self.meta["groups"]})
            self.meta["stop_reason"] = ", ".join(reasons)
            self.document["complete"] = True
        except KeyboardInterrupt as exc:
            self.meta["stop_reason"] = f"interrupted ({exc or 'SIGINT'})"
            raise
        except DbbenchError as exc:
            self.meta["stop_reason"] = str(exc)
            raise
        finally:
            self.between.stop()
            self.pinning.release()
            self.meta["finished_at"] = instants.utc_now()
            try:
                self.save(final=True)
            except DbbenchError as exc:
                failure = exc
        if failure is not None:
            raise failure
        return self.results_path

    def latencies(self) -> list[int]:
        return sorted({record["db_latency_ms"] for record in self.records.values()})

    def needs_proxy(self) -> bool:
        return self.latencies() != [0] or bool(self.options.fault or self.options.proxy)

    @property
    def proxy(self) -> proxy.Proxy | None:
        return self.between.proxy if self.between else None

    def fault_between_rounds(self, number: int, round_no: int, live: list[str],
                             processes: dict[str, lifecycle.CellProcess]) -> None:
        """The fault, between two rounds, while every live cell answers sequential lookups; each
        cell's recovery is timed from the database being back. A cell that does not serve
        again within the bound fails; the run goes on with the others. No slice is measured
        during the fault or the recovery, so the figures are of the healthy service."""
        fault = self.options.fault
        self.describe(f"group {number}: {fault} after round {round_no}")
        probers = {name: outages.Prober(processes[name].base_url) for name in live}
        with contextlib.ExitStack() as stack:
            for prober in probers.values():
                stack.enter_context(prober)
            time.sleep(outages.BASELINE_S)
            began, back = outages.inject(fault, self.proxy, self.options.fault_s)
            steady = {name: prober.wait_steady(back, FAULT_RECOVERY_TIMEOUT_S) for name, prober in probers.items()}
        self.meta["faults"].append({
            "group": number, "after_round": round_no, "fault": fault, "seconds": round(back - began, 3),
            "recovery_s": {name: None if when is None else round(max(0.0, when - back), 3)
                           for name, when in steady.items()},
            "answers": {name: probers[name].counts(began, steady[name] or time.monotonic()) for name in live},
        })
        for name, when in steady.items():
            if not processes[name].alive():
                self.fail(name, processes[name], f"{fault} after round {round_no}: the cell exited")
            elif when is None:
                self.fail(name, processes[name], f"{fault} after round {round_no}: not serving again "
                                                 f"{FAULT_RECOVERY_TIMEOUT_S:.0f} s after the database was back")
        self.save()

    def stopping_text(self) -> str:
        rule = self.plan.rule
        if rule.rounds is not None:
            return f"{rule.rounds} rounds"
        if rule.precision is None:
            return f"rounds until {rule.budget_s:.0f} s are spent"
        return f"rounds until every ratio is within ±{rule.precision:.0%} or {rule.budget_s:.0f} s are spent"

    def measure_group(self, number: int, names: list[str], deadline: float) -> None:
        group = {"group": number, "cells": names, "rounds": 0, "stopped": None,
                 "connections_held": sum(held_connections(self.records[name]) for name in names)}
        self.meta["groups"].append(group)
        processes: dict[str, lifecycle.CellProcess] = {}
        self.up = processes  # the group's cells: those a slice does not measure are idle beside it
        try:
            self.start_group(number, names, processes)
            round_no, round_s = 0, len(names) * (self.plan.slice_s + SLICE_OVERHEAD_S)
            while True:
                live = [n for n in names if n in processes and self.records[n]["status"] == "ok"]
                worst = results.worst_half_width(self.document, names)
                stopped = "no cell left to measure" if not live else \
                    "one of its pair failed: no ratio to measure" if self.options.parity and len(live) < 2 else \
                    self.plan.rule.decide(round_no, self.elapsed(), deadline, round_s, worst)
                if stopped:
                    group["stopped"] = stopped
                    break
                round_no += 1
                began = time.monotonic()
                self.measure_round(number, round_no, live, processes, deadline)
                group["rounds"] = round_no
                round_s = time.monotonic() - began
                self.save()
                self.progress.console.print(self.round_line(number, round_no, names), markup=False)
                if self.options.fault and round_no == FAULT_AFTER_ROUND:
                    self.fault_between_rounds(number, round_no, live, processes)
            if self.options.profile:
                profile.profile_group(self, number, names, processes)
        finally:
            self.backlogs = []
            lifecycle.stop_all(list(processes.values()))
            between.release_pooled_connections(self, number)
            if self.plan.scenario.writes:
                self.restore_after_group(number)

    def restore(self, when: str) -> dict:
        """Put the seeded users back (only rows that differ); the table's checksum must be the
        seed's again."""
        restored = seeding.restore_seeded(self.url)
        if not restored.matches_seed:
            raise DbbenchError(f"the users table does not match its seed after restoring it ({when}): "
                               "run 'dbbench db seed --force'")
        if restored.rows and self.progress is not None:
            self.progress.console.print(f"{restored.rows} changed users put back as seeded ({when})", markup=False)
        return {"when": when, "rows": restored.rows, "checksum": restored.checksum}

    def restore_after_group(self, number: int) -> None:
        """A write scenario's group ends by restoring the seed. It runs while the group
        stops, maybe on an interrupt or with PostgreSQL gone: it records a failure instead
        of raising one (the next run restores first)."""
        when = f"after group {number}"
        try:
            self.meta["restored"].append(self.restore(when))
        except DbbenchError as exc:
            self.meta["restored"].append({"when": when, "rows": None, "error": str(exc)})
            err.print(f"dbbench: warning: {exc}; the next run puts the seeded users back before it measures")

    def start_group(self, number: int, names: list[str], processes: dict[str, lifecycle.CellProcess]) -> None:
        """Start every cell of the group at once, then wait for, verify and warm each."""
        for name in names:
            record = self.records[name]
            if record["status"] != "ok":
                continue
            slug = plan.file_slug(name)
            process = lifecycle.RemoteCell(self.members[name].cell, self.options.target) if self.options.target else \
                lifecycle.CellProcess.on_free_port(
                    self.members[name].cell, workers=record["server_cpus"], pool_size=record["pool_size"],
                    log_path=self.run_dir / "logs" / f"{slug}-group{number}.log", users=self.max_id,
                    host=self.cell_host, settings=record["settings"], minimal=self.members[name].minimal)
            try:
                process.start(self.login_of(name).url)
            except DbbenchError as exc:
                self.fail(name, None, f"start: {exc}")
                continue
            processes[name] = process
        ready = {}
        for name, process in list(processes.items()):
            self.describe(f"group {number}: starting {name}")
            try:
                process.wait_ready()
                self.pinning.apply(process.processes(), self.records[name]["server_cpus"])
                if self.records[name]["verification"] is None and not self.verify(name, process):
                    continue
                ready[name] = process
            except DbbenchError as exc:
                self.fail(name, process, f"group {number} start: {exc}")
        self.warm(number, ready)
        self.placement.group_started(self, number)

    def warm(self, number: int, processes: dict[str, lifecycle.CellProcess]) -> None:
        """The group's verified cells warmed side by side, each with its own primer and warm-up
        (discarded). One after the other, seven cells' 6 s took 42 s of every run's start-up.
        Each cell's statements were counted under its own role (runner/db/roles.py), so the
        neighbours starting beside it stayed out of its verdict."""
        if not processes:
            return
        self.describe(f"group {number}: warming {len(processes)} at once")

        def warm_one(name: str, process: lifecycle.CellProcess) -> None:
            warmed = None
            for seconds in (self.plan.primer_s, self.plan.warmup_s):
                if seconds:
                    warmed = self.closed_loop(name, process, seconds, self.plan.seed)
            if warmed is not None:  # the primer's abandoned requests are served during the warm-up
                self.backlogs.append(self.left_behind(name, process.processes(), warmed, time.monotonic()))

        with ThreadPoolExecutor(max_workers=len(processes), thread_name_prefix="warm") as pool:
            warming = {name: pool.submit(warm_one, name, process) for name, process in processes.items()}
        for name, done in warming.items():
            try:
                done.result()
            except DbbenchError as exc:
                self.fail(name, processes[name], f"group {number} start: {exc}")

    def measure_round(self, number: int, round_no: int, live: list[str],
                      processes: dict[str, lifecycle.CellProcess], deadline: float) -> None:
        order = live[:]
        self.rng.shuffle(order)
        self.meta["order"].append({"group": number, "round": round_no, "cells": order})
        disturbed = []
        for position, name in enumerate(order, start=1):
            measured = self.measure_slice(name, processes[name], number, round_no, position)
            if measured is not None and measured["disturbed"]:
                disturbed.append((position, name))
        if not repeats_pay(len(disturbed), len(order)):
            return
        for position, name in disturbed:
            if self.records[name]["status"] == "ok" and \
                    self.elapsed() + self.plan.slice_s + SLICE_OVERHEAD_S <= deadline:
                self.measure_slice(name, processes[name], number, round_no, position, repeat=True)

    def measure_slice(self, name: str, process: lifecycle.CellProcess, number: int, round_no: int,
                      position: int, repeat: bool = False) -> dict | None:
        record = self.records[name]
        supervise.raise_if_interrupted()
        self.describe(f"group {number} round {round_no} {name}")
        waited = backlog.settle(self.backlogs)
        self.backlogs = []
        # The cell's processes are looked up once, before the slice, and its memory and backlog
        # read after it: nothing of that bookkeeping runs in the slice's window.
        tree = process.processes()
        probe = noise.NoiseProbe.start()
        started_s = round(self.elapsed(), 2)
        try:
            result = self.measure_load(name, process, seed=self.plan.seed + 1000 * round_no + position,
                                       tree=tree)
        except DbbenchError as exc:
            self.fail(name, process, f"group {number} round {round_no}: {exc}")
            return None
        stopped = time.monotonic()
        slice_noise = probe.finish(self.placement.local_cpu(result["cpu_seconds"]), self.measured_trees(process),
                                   {other.process.pid for other in self.up.values()
                                    if other is not process and other.process is not None})
        self.backlogs = [self.left_behind(name, tree, result, stopped)]
        entry = {"group": number, "round": round_no, "position": position, "repeat": repeat,
                 "started_s": started_s, **result, "server_rss_mib": process.rss_mib(tree), "backlog": waited,
                 "noise": slice_noise}
        entry["disturbed"] = self.placement.disturbed(entry)
        if result["errors"] or result["non_2xx"]:
            entry["database"] = "reachable" if database.reachable(self.url) else "unreachable"
        record["slices"].append(entry)
        self.save(slice_only=True)
        if not process.alive():
            self.fail(name, process, f"group {number} round {round_no}: exited with code "
                                     f"{process.process.returncode} during a slice: {process.log_tail()}")
        elif entry.get("database") == "unreachable":
            self.wait_for_database(f"group {number} round {round_no}")
        return entry

    def measure_load(self, name: str, process: lifecycle.CellProcess, seed: int, tree: list | None = None) -> dict:
        """One slice: wrk's closed loop, or oha at the cell's constant rate. `tree`: the
        cell's processes, looked up before the slice (else now)."""
        rate = self.records[name]["rate_target"]
        if rate is None:
            return self.closed_loop(name, process, self.plan.slice_s, seed, tree)
        return openloop.run_rate(process.base_url, rate=rate, duration_s=self.plan.slice_s,
                                 **self.load_args(name, process, tree))

    def closed_loop(self, name: str, process: lifecycle.CellProcess, duration_s: float, seed: int,
                    tree: list | None = None) -> dict:
        """wrk against a cell for a while (a slice, or its warm-up), where the placement runs it."""
        return self.placement.closed_loop(self, name, process, duration_s, seed, tree)

    def left_behind(self, name: str, tree: list | None, result: dict, stopped: float) -> backlog.Backlog | None:
        """The requests a load abandoned in its server, which the next slice waits out."""
        return backlog.Backlog.after(tree, self.records[name]["connections"], result["rps"], stopped)

    def measured_trees(self, process: lifecycle.CellProcess) -> set[int]:
        """The measured parties' root processes here: the cell's, toxiproxy's and PgBouncer's where
        they run, and the postmaster (with its backends below it); what runs outside their trees is
        outside the measurement."""
        roots = [process.process, *self.between.roots()]
        return {found.pid for found in roots if found is not None} | (
            {self.postmaster_pid} if self.postmaster_pid else set())


    def lua_args(self) -> dict:
        """What only wrk's scripts use: the feed's post ids, and /queries' lookups per request."""
        return dict(max_post_id=self.max_post_id, queries_n=self.options.queries_n)

    def url_of(self, name: str) -> str:
        """The database URL a member's cell connects to: through the listener adding its round
        trip when a proxy is in the path."""
        return self.between.url_for(self.records[name]["db_latency_ms"] if self.proxy else None)

    def load_args(self, name: str, process: lifecycle.CellProcess, tree: list | None = None) -> dict:
        return dict(scenario=self.plan.scenario, connections=self.records[name]["connections"], max_id=self.max_id,
                    server_processes=tree if tree is not None else process.processes(), pinning=self.pinning,
                    postmaster_pid=self.postmaster_pid,
                    usernames=self.usernames,
                    proxy_processes=self.between.processes())

    def login_of(self, name: str) -> roles.Login:
        """How a member's cell connects: as a role of its own, so its statements are told from its
        neighbours' (a cell served elsewhere connects as its own host set it up)."""
        if name not in self.logins:
            self.logins[name] = (roles.Login(self.url_of(name), None, "served on its own host")
                                 if self.options.target else roles.login_for(self.url, self.url_of(name), name))
        return self.logins[name]

    def verify(self, name: str, process: lifecycle.CellProcess) -> bool:
        record = self.records[name]
        scenario = self.plan.scenario
        verdict = verifier.verify_running(process, self.url, self.login_of(name), endpoints=scenario.endpoints,
                                              weights=scenario.endpoint_weights,
                                              db_latency_ms=record["db_latency_ms"])
        record["verification"] = verdict.as_dict()
        record["statements_per_request"] = verdict.statements_per_request
        if not verdict.ok:
            logged = process.last_error() if isinstance(process, lifecycle.CellProcess) else None
            self.fail(name, process, f"verification: {verdict.first_failure}"
                      + (f"; its log's last exception: {logged}" if logged else ""))
        return verdict.ok

    def fail(self, name: str, process: lifecycle.CellProcess | None, reason: str) -> None:
        """Record the cell's failure and stop it; the others go on, unless PostgreSQL is gone."""
        self.records[name].update(status="failed", reason=reason)
        self.progress.console.print(f"{name}: failed: {reason}", markup=False)
        if process is not None:
            process.stop()
        if not database.reachable(self.url):
            self.wait_for_database(name)

    def wait_for_database(self, where: str) -> None:
        """Poll PostgreSQL for a bounded time; go on if it answers again, else end the run."""
        bound = float(os.environ.get("DBBENCH_DB_WAIT_S") or DATABASE_RECOVERY_S)
        self.progress.console.print(f"PostgreSQL does not answer ({where}): waiting up to {bound:g} s", markup=False)
        began, outage = time.monotonic(), {"at": instants.utc_now(), "where": where}
        while time.monotonic() - began < bound:
            time.sleep(1)
            if database.reachable(self.url):
                recovered = round(time.monotonic() - began, 1)
                self.meta["database_outages"].append({**outage, "recovered_after_s": recovered})
                return
        self.meta["database_outages"].append({**outage, "recovered_after_s": None})
        raise DatabaseLost(
            f"PostgreSQL at {database.mask_url(self.url)} stopped answering ({where}) and did not come back within "
            f"{bound:g} s: the run ended, its finished slices are kept in {self.results_path}"
        )

    def describe(self, text: str) -> None:
        worst = results.worst_half_width(self.document)
        shown = f"±{worst:.1%}" if worst is not None else "—"
        target = self.plan.rule.precision if self.plan.rule.rounds is None else None
        goal = f" (target ±{target:.0%})" if target else ""
        self.progress.update(self.task, description=f"{text} | precision {shown}{goal}",
                             completed=min(self.elapsed(), self.expected_seconds()))

    def round_line(self, number: int, round_no: int, names: list[str]) -> str:
        """One line per round above the progress bar: throughput, the worst ratio, the noise."""
        latest = [piece for name in names for piece in self.records[name]["slices"]
                  if piece["group"] == number and piece["round"] == round_no]
        steal = max((s["noise"]["steal"] for s in latest), default=0.0)
        worst = results.worst_half_width(self.document, names)
        shown = f"±{worst:.1%}" if worst is not None else "— (needs 2 rounds)"
        disturbed = sum(1 for s in latest if s["disturbed"])
        return (f"group {number} round {round_no}: {len(latest)} slices, worst ratio interval {shown}, "
                f"highest steal {steal:.1%}" + (f", {disturbed} disturbed" if disturbed else ""))


def execute(runner: Run) -> int | None:
    """Run; on Ctrl-C or SIGTERM show what was kept and return the exit code (None when done)."""
    from runner.report import results, tables

    try:
        runner.execute()
    except KeyboardInterrupt as exc:
        if runner.document is not None and runner.results_path.exists():
            err.print(f"interrupted: finished slices kept in {runner.results_path}")
            print(tables.render_markdown(results.load(runner.results_path)))
        return supervise.exit_code_of(exc)
    return None
