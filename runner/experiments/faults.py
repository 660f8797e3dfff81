"""dbbench faults: each cell under the two faults of runner/measure/outages.py, one after the
other, while a client sends sequential lookups.

A cell may answer 5xx while the database is gone; it must serve again, without a restart,
once the database is back. What it answered and how long it took to serve steadily again
(the recovery time) are recorded per fault: they differ between pools (asyncpg's,
SQLAlchemy's QueuePool, psycopg_pool, pgx). The cell is verified before, and its values
checked again after."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from runner.base import instants, paths
from runner.base.console import err
from runner.base.errors import DbbenchError
from runner.cells import catalog, lifecycle
from runner.db import clusterlock, database, proxy, roles, seeding
from runner.experiments import sequence
from runner.measure import metadata
from runner.measure.outages import BASELINE_S, PROBE_TIMEOUT_S, STEADY, Prober, inject
from runner.report import results
from runner.verify import verifier


@dataclass
class FaultOptions:
    cells: list[catalog.Cell]  # as the command line selected them
    outage_s: float
    recovery_timeout_s: float
    pool_size: int
    db_url: str | None
    out: Path | None


def pool_library(cell: catalog.Cell) -> str:
    """The connection pool that has to notice the fault, by the cell's environment."""
    if not cell.is_python:
        return "database/sql over pgx (GORM)" if cell.variant.name == "gorm" else "pgxpool (pgx v5)"
    return {"gino": "asyncpg pool", "sa2": "SQLAlchemy AsyncAdaptedQueuePool over asyncpg",
            "sync": "psycopg_pool"}.get(cell.stack or "", cell.stack or "unknown")


def exercise(cell: catalog.Cell, options: FaultOptions, url: str, logs: Path) -> dict:
    record = {"name": cell.name, "pool": pool_library(cell), "status": "ok", "reason": None, "faults": [],
              "verified_after": None}
    through = proxy.Proxy.start(url, 0, logs / f"toxiproxy-{cell.framework.name}-{cell.variant.name}.log")
    process = lifecycle.CellProcess.on_free_port(cell, workers=1, pool_size=options.pool_size,
                                                 log_path=logs / f"{cell.framework.name}-{cell.variant.name}.log")
    try:
        login = roles.login_for(url, through.url_for(url), cell.name)
        with process:
            process.start(login.url)
            process.wait_ready()
            before = verifier.verify_running(process, url, login)
            if not before.ok:
                raise DbbenchError(f"verification before the faults: {before.first_failure}")
            pid = process.process.pid
            with Prober(process.base_url) as prober:
                time.sleep(BASELINE_S)
                for fault in ("reset", "outage"):
                    began, back = inject(fault, through, options.outage_s)
                    steady = prober.wait_steady(back, options.recovery_timeout_s)
                    answers = prober.counts(began, steady if steady is not None else time.monotonic())
                    record["faults"].append({
                        "fault": fault, "seconds": round(back - began, 3), "answers": answers,
                        "failed_answers": sum(n for outcome, n in answers.items() if outcome != "200"),
                        "recovered": steady is not None,
                        "recovery_s": None if steady is None else round(max(0.0, steady - back), 3),
                    })
                    if steady is None:
                        break
            restarted = not process.alive() or process.process.pid != pid
            record["restarted"] = restarted
            after = verifier.verify_running(process, url, login, count_pool=False)
            record["verified_after"] = after.ok
            problems = [f"{f['fault']}: not serving steadily {options.recovery_timeout_s:.0f} s after the "
                        "database was back" for f in record["faults"] if not f["recovered"]]
            if restarted:
                problems.append("the cell's process exited")
            if not after.ok:
                problems.append(f"after the faults: {after.first_failure}")
            if problems:
                record.update(status="failed", reason="; ".join(problems))
    except DbbenchError as exc:
        record.update(status="failed", reason=str(exc))
    finally:
        through.stop()
    return record


def run_faults(options: FaultOptions) -> tuple[Path, dict]:
    """Every selected cell in turn; the results file is rewritten after each."""
    selected = options.cells
    url, embedded = database.database_url(options.db_url)
    seeding.ensure_seeded(url, log=err.print)
    proxy.binary()
    run_dir = results.new_run_dir((options.out or paths.REPO / "results") / "faults")
    document = {
        "kind": "faults", "schema_version": 1, "complete": False,
        "metadata": {"project": metadata.collect_project(), "machine": metadata.collect_machine(),
                     "postgres": metadata.collect_postgres(url, embedded),
                     "cluster_lock": clusterlock.current(),
                     "faults": {"started_at": instants.utc_now(), "outage_s": options.outage_s,
                                "recovery_timeout_s": options.recovery_timeout_s, "steady_answers": STEADY,
                                "probe_timeout_s": PROBE_TIMEOUT_S, "proxy": f"toxiproxy {proxy.built_version()}"}},
        "cells": [],
    }
    path = run_dir / "faults.json"

    def measure(cell: catalog.Cell) -> dict:
        err.print(f"{cell.name}: dropping its database connections, then a {options.outage_s:g} s outage")
        return exercise(cell, options, url, run_dir / "logs")

    sequence.cell_by_cell(selected, document, path, "faults", measure, empty={"faults": []})
    return path, document


def render(document: dict) -> str:
    from runner.report.formatting import md_table

    rows = []
    for cell in document["cells"]:
        by_fault = {f["fault"]: f for f in cell["faults"]}
        shown = []
        for fault in ("reset", "outage"):
            found = by_fault.get(fault)
            if found is None:
                shown.append("—")
                continue
            answers = ", ".join(f"{outcome} {n}" for outcome, n in sorted(found["answers"].items()))
            recovery = f"{found['recovery_s']:.2f} s" if found["recovered"] else "not recovered"
            shown.append(f"{recovery} ({answers})")
        rows.append([cell["name"], cell.get("pool", "—"), *shown,
                     cell["status"] + (f": {cell['reason']}" if cell.get("reason") else "")])
    meta = document["metadata"]["faults"]
    head = (f"# dbbench faults: every database connection dropped, then PostgreSQL unreachable for "
            f"{meta['outage_s']:g} s\n\nRecovery: from the database being reachable again to the first of "
            f"{meta['steady_answers']} answers in a row that are 200, for sequential lookups (a request times out "
            f"after {meta['probe_timeout_s']:g} s); in brackets, every answer from the fault to then.\n\n")
    return head + md_table(["cell", "pool", "connections dropped: recovery", "outage: recovery", "verdict"],
                           rows) + "\n"
