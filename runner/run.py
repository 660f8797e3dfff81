"""The run: every selected cell, R round-robin rounds in a shuffled order, results after each.

One life per cell and round: start → wait (bounded) → verify (first round only; a failing
cell is recorded and never measured) → primer and warm-up (discarded) → measured run → stop,
always. A bad cell is recorded with its reason and the run goes on; Ctrl-C stops what the
run started and keeps the finished rounds.
"""

from __future__ import annotations

import random
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from runner import cells, database, environments, load, metadata, paths, report, results, verification
from runner.errors import DbbenchError

err = Console(stderr=True, highlight=False, markup=False, soft_wrap=True)
START_AND_STOP_S = 3
RESERVED_CONNECTIONS = 5


@dataclass
class RunOptions:
    frameworks: list[str] | None = None
    variants: list[str] | None = None
    everything: bool = False
    scenario: str = "by-id"
    connections: int | None = None
    duration_s: int | None = None
    rounds: int | None = None
    server_cpus: int = 1
    pool_size: int | None = None
    db_url: str | None = None
    users: int | None = None
    out: Path | None = None
    quick: bool = False
    seed: int | None = None


@dataclass
class Plan:
    """The options resolved against the scenario and --quick."""

    scenario: load.Scenario
    connections: int
    duration_s: int
    warmup_s: int
    primer_s: int
    rounds: int
    seed: int

    @classmethod
    def resolve(cls, options: RunOptions) -> Plan:
        scenario = load.load_scenario(options.scenario)
        quick = options.quick
        return cls(
            scenario=scenario,
            connections=options.connections or scenario.connections,
            duration_s=options.duration_s or (2 if quick else scenario.duration_s),
            warmup_s=1 if quick else scenario.warmup_s,
            primer_s=0 if quick else scenario.primer_s,
            rounds=options.rounds or (2 if quick else 3),
            seed=options.seed if options.seed is not None else random.SystemRandom().randrange(2**31),
        )

    def seconds_per_cell_round(self) -> int:
        return START_AND_STOP_S + self.primer_s + self.warmup_s + self.duration_s


def cell_record(cell: cells.Cell, plan: Plan, options: RunOptions) -> dict:
    processes = cell.processes(options.server_cpus)
    pool = options.pool_size or cells.pool_size_for(plan.connections, processes)
    return {
        "framework": cell.framework.name, "variant": cell.variant.name, "strategy": cell.variant.strategy,
        "kind": cell.framework.kind, "reference": cell.framework.reference, "server": cell.framework.server,
        "scenario": plan.scenario.name, "connections": plan.connections, "pool_size": pool,
        "workers": processes, "server_cpus": options.server_cpus, "status": "ok", "reason": None,
        "verification": None, "statements_per_request": {}, "rounds": [],
        "rps_median": None, "rps_ci95": None, "rank": None,
    }


def check_connection_budget(url: str, records: list[dict]) -> None:
    """Every pool must fit under max_connections, or the pool cannot fill."""
    with database.connect(url) as conn:
        limit = int(conn.execute("SHOW max_connections").fetchone()[0])
        reserved = int(conn.execute("SHOW superuser_reserved_connections").fetchone()[0])
    available = limit - reserved - RESERVED_CONNECTIONS
    for record in records:
        needed = record["pool_size"] * record["workers"]
        if needed > available:
            raise DbbenchError(
                f"{record['framework']}/{record['variant']} would open {needed} connections but the server "
                f"allows {available} for it (max_connections {limit}): lower --connections or --pool-size"
            )


class Run:
    def __init__(self, options: RunOptions):
        self.options = options
        self.plan = Plan.resolve(options)
        self.selected = cells.manifest().select(options.frameworks, options.variants, options.everything)
        self.records = {cell.name: cell_record(cell, self.plan, options) for cell in self.selected}
        self.run_dir = new_run_dir(options.out or paths.REPO / "results")
        self.results_path = self.run_dir / "results.json"
        self.document: dict | None = None

    def prepare(self) -> list[cells.Cell]:
        """Database, environments, binaries: the cells that can run, the others recorded."""
        load.wrk_binary()
        url, embedded = database.database_url(self.options.db_url)
        self.max_id = database.ensure_seeded(url, self.options.users, log=err.print).users
        self.url, self.embedded = url, embedded
        check_connection_budget(url, list(self.records.values()))
        runnable = []
        for cell in self.selected:
            record = self.records[cell.name]
            ok, detail = cells.availability(cell)
            if not ok:
                record.update(status="skipped", reason=detail)
                continue
            try:
                if cell.is_python:
                    environments.ensure(cell.stack)
                else:
                    cells.gin_binary()
            except DbbenchError as exc:
                record.update(status="failed", reason=str(exc))
                continue
            runnable.append(cell)
        self.postmaster_pid = database.EmbeddedCluster.default().postmaster_pid() if embedded else None
        self.pinning = load.Pinning.plan(self.options.server_cpus, self.plan.scenario.threads, self.postmaster_pid)
        self.document = self.new_document(runnable)
        return runnable

    def new_document(self, runnable: list[cells.Cell]) -> dict:
        plan = self.plan
        stacks = {cell.stack for cell in runnable if cell.is_python}
        return {
            "schema_version": results.SCHEMA_VERSION,
            "complete": False,
            "metadata": {
                "project": metadata.collect_project(),
                "machine": metadata.collect_machine(),
                "tools": metadata.collect_tools(),
                "stacks": metadata.collect_stacks(stacks),
                "go": metadata.collect_go(any(not cell.is_python for cell in runnable)),
                "postgres": metadata.collect_postgres(self.url, self.embedded),
                "dataset": metadata.collect_dataset(self.url),
                "run": {
                    "started_at": metadata.utc_now(), "finished_at": None, "scenario": plan.scenario.name,
                    "scenario_description": plan.scenario.description, "connections": plan.connections,
                    "wrk_threads": plan.scenario.threads, "duration_s": plan.duration_s,
                    "warmup_s": plan.warmup_s, "primer_s": plan.primer_s, "rounds": plan.rounds,
                    "server_cpus": self.options.server_cpus, "shuffle_seed": plan.seed, "quick": self.options.quick,
                    "pinning": self.pinning.note, "order": [],
                },
            },
            "cells": list(self.records.values()),
        }

    def save(self) -> None:
        results.write(self.document, self.results_path)
        (self.run_dir / "results.md").write_text(report.render_markdown(self.document))

    def execute(self) -> Path:
        runnable = self.prepare()
        self.run_dir.mkdir(parents=True, exist_ok=True)
        results.point_latest(self.run_dir)
        self.save()
        plan = self.plan
        total = plan.rounds * len(runnable)
        minutes = total * plan.seconds_per_cell_round() / 60
        err.print(
            f"{len(runnable)} cells × {plan.rounds} rounds of {plan.duration_s} s "
            f"(+{plan.primer_s + plan.warmup_s} s warm-up each): about {minutes:.1f} min plus verification; "
            f"{self.pinning.note}"
        )
        err.print(f"results: {self.results_path}")
        rng = random.Random(plan.seed)
        progress = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            TextColumn("ETA"), TimeRemainingColumn(), console=err, transient=False,
        )
        previous = signal.signal(signal.SIGTERM, raise_keyboard_interrupt)
        try:
            with progress:
                task = progress.add_task("starting", total=total)
                for round_no in range(1, plan.rounds + 1):
                    order = runnable[:]
                    rng.shuffle(order)
                    self.document["metadata"]["run"]["order"].append([cell.name for cell in order])
                    for position, cell in enumerate(order, start=1):
                        record = self.records[cell.name]
                        progress.update(task, description=f"round {round_no}/{plan.rounds} {cell.name}")
                        if record["status"] == "ok":
                            self.cell_round(cell, record, round_no, position)
                            self.save()
                            progress.console.print(f"round {round_no}/{plan.rounds} {cell.name}: {outcome(record)}",
                                                   markup=False)
                        progress.advance(task)
            self.document["complete"] = True
        finally:
            signal.signal(signal.SIGTERM, previous)
            self.pinning.release()
            self.document["metadata"]["run"]["finished_at"] = metadata.utc_now()
            self.save()
        return self.results_path

    def cell_round(self, cell: cells.Cell, record: dict, round_no: int, position: int) -> None:
        process = cells.CellProcess(
            cell, port=database.free_port(), workers=self.options.server_cpus, pool_size=record["pool_size"],
            log_path=self.run_dir / "logs" / f"{cell.framework.name}-{cell.variant.name}-r{round_no}.log",
        )
        try:
            with process:
                process.start(self.url)
                process.wait_ready()
                self.pinning.apply(process.processes())
                if record["verification"] is None and not self.verify(process, record):
                    return
                measure = dict(
                    scenario=self.plan.scenario, connections=self.plan.connections, max_id=self.max_id,
                    server_processes=process.processes(), pinning=self.pinning, postmaster_pid=self.postmaster_pid,
                )
                for warm in (self.plan.primer_s, self.plan.warmup_s):
                    if warm:
                        load.run_wrk(process.base_url, duration_s=warm, seed=self.plan.seed + round_no, **measure)
                result = load.run_wrk(process.base_url, duration_s=self.plan.duration_s,
                                      seed=self.plan.seed + 1000 * round_no + position, **measure)
                if process.process.poll() is not None:
                    raise DbbenchError(f"exited with code {process.process.returncode} during the measured run: "
                                       f"{process.log_tail()}")
                record["rounds"].append({"round": round_no, "position": position, **result})
        except DbbenchError as exc:
            record.update(status="failed", reason=f"round {round_no}: {exc}")

    def verify(self, process: cells.CellProcess, record: dict) -> bool:
        verdict = verification.Verifier(
            process.base_url, self.url, expected_connections=process.expected_connections,
        ).run()
        record["verification"] = verdict.as_dict()
        record["statements_per_request"] = verdict.statements_per_request
        if not verdict.ok:
            record.update(status="failed", reason=f"verification: {verdict.first_failure}")
        return verdict.ok


def new_run_dir(parent: Path) -> Path:
    """results/<UTC time>, never an existing one (two runs can start in the same second)."""
    stamp = time.strftime("%Y-%m-%dT%H-%M-%SZ", time.gmtime())
    candidate, suffix = parent / stamp, 1
    while candidate.exists():
        suffix += 1
        candidate = parent / f"{stamp}-{suffix}"
    return candidate


def outcome(record: dict) -> str:
    """One line on a cell's latest round, for the log above the progress bar."""
    if record["status"] != "ok":
        return f"{record['status']}: {record['reason']}"
    last = record["rounds"][-1]
    trouble = f", {last['errors']} errors, {last['non_2xx']} non-2xx" if last["errors"] or last["non_2xx"] else ""
    return f"{last['rps']:,.0f} requests/s, p99 {last['latency_ms']['p99']:g} ms{trouble}"


def raise_keyboard_interrupt(_signum, _frame):
    raise KeyboardInterrupt
