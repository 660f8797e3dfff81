"""The soak: each selected cell held at high concurrency for a long time, watched for leaks.

The load is back-to-back wrk runs of a few seconds each (the same load stage as `run`).
Between them, the cell's resident memory (its whole process tree) and the database
connections it holds are sampled. A leak is a trend, not a spike: memory growth is the
Theil-Sen slope over the run after its first fifth (start-up and caches filling), robust
to single outliers, with its 95% interval; a cell is flagged when the interval's lower
end is above zero and the fitted growth over the run is material. A pool that holds more
connections than it opened at start-up, once the load has stopped and it has settled, is
flagged as leaking connections; during the load the count may swing (pgx, for one, closes a
connection whose query a departing client cancelled, and opens another).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from scipy import stats

from runner.base import instants, paths, scenarios
from runner.base.console import err
from runner.base.errors import DbbenchError
from runner.cells import catalog, lifecycle
from runner.db import clusterlock, database, seeding
from runner.experiments import sequence
from runner.measure import metadata, wrk
from runner.report import results

SETTLE_FRACTION = 0.2
GROWTH_FLAG_MIB = 8.0
GROWTH_FLAG_SHARE = 0.10
SETTLE_S = 3  # after the load, before the pool's connections are counted for the leak check


@dataclass
class SoakOptions:
    cells: list[catalog.Cell]  # as the command line selected them
    duration_s: float
    connections: int
    sample_s: float
    server_cpus: int
    db_url: str | None
    out: Path | None


def memory_trend(samples: list[dict]) -> dict:
    """Theil-Sen slope of RSS (MiB per minute) after the settling part, and whether it leaks."""
    settled = [s for s in samples if s["t_s"] >= samples[-1]["t_s"] * SETTLE_FRACTION] if samples else []
    if len(settled) < 4:
        return {"slope_mib_per_min": None, "ci95": None, "growth_mib": None, "leak": False}
    times = [s["t_s"] / 60 for s in settled]
    slope, _, low, high = stats.theilslopes([s["rss_mib"] for s in settled], times, alpha=0.95)
    growth = slope * (times[-1] - times[0])
    start = settled[0]["rss_mib"]
    leak = low > 0 and growth > max(GROWTH_FLAG_MIB, GROWTH_FLAG_SHARE * start)
    return {"slope_mib_per_min": round(float(slope), 3), "ci95": [round(float(low), 3), round(float(high), 3)],
            "growth_mib": round(float(growth), 2), "leak": bool(leak)}


def soak_cell(cell: catalog.Cell, options: SoakOptions, url: str, max_id: int, log_dir: Path) -> dict:
    pool = catalog.pool_size_for(options.connections, cell.processes(options.server_cpus))
    record = {"name": cell.name, "framework": cell.framework.name, "variant": cell.variant.name,
              "pool_size": pool, "workers": cell.processes(options.server_cpus), "status": "ok", "reason": None,
              "samples": []}
    process = lifecycle.CellProcess.on_free_port(cell, workers=options.server_cpus, pool_size=pool,
                                                 log_path=log_dir / f"{cell.framework.name}-{cell.variant.name}.log")
    record["expected_connections"] = process.expected_connections
    scenario = scenarios.load_scenario("by-id")
    db_port = database.port_of(url)
    with process:
        try:
            process.start(url)
            process.wait_ready()
            began = time.monotonic()
            while time.monotonic() - began < options.duration_s:
                seconds = max(1, min(options.sample_s, round(options.duration_s - (time.monotonic() - began))))
                result = wrk.run_wrk(process.base_url, scenario, options.connections, seconds, max_id,
                                      seed=len(record["samples"]) + 1, server_processes=process.processes())
                record["samples"].append({
                    "t_s": round(time.monotonic() - began, 2), "rss_mib": process.rss_mib(),
                    "db_connections": process.database_connections(db_port), "rps": result["rps"],
                    "requests": result["requests"], "errors": result["errors"],
                    "errors_by_kind": result["errors_by_kind"], "non_2xx": result["non_2xx"],
                })
                err.print(f"{cell.name}: {record['samples'][-1]['t_s']:.0f} s, RSS "
                          f"{record['samples'][-1]['rss_mib']:.1f} MiB, {result['rps']:,.0f} requests/s")
                if not process.alive():
                    raise DbbenchError(f"exited with code {process.process.returncode}: {process.log_tail()}")
            time.sleep(SETTLE_S)
            record["db_connections_after_load"] = process.database_connections(db_port)
        except DbbenchError as exc:
            record.update(status="failed", reason=str(exc))
    return summarize(record)


def summarize(record: dict) -> dict:
    samples = record["samples"]
    record["memory"] = memory_trend(samples)
    held = [s["db_connections"] for s in samples]
    record["db_connections"] = {"min": min(held, default=None), "max": max(held, default=None),
                                "after_load": record.get("db_connections_after_load")}
    record["errors"] = sum(s["errors"] for s in samples)
    record["errors_by_kind"] = {kind: sum(s["errors_by_kind"][kind] for s in samples)
                                for kind in ("connect", "read", "write", "timeout")}
    record["non_2xx"] = sum(s["non_2xx"] for s in samples)
    flags = []
    if record["memory"]["leak"]:
        flags.append("memory-growth")
    after = record.get("db_connections_after_load")
    if after is not None and after > record["expected_connections"]:
        flags.append("connection-leak")
    if record["errors"] or record["non_2xx"]:
        flags.append("errors")
    record["flags"] = flags
    return record


def soak(options: SoakOptions) -> tuple[Path, dict]:
    """Soak every selected cell in turn; the results file is rewritten after each."""
    selected = options.cells
    url, embedded = database.database_url(options.db_url)
    max_id = seeding.ensure_seeded(url, log=err.print).users
    run_dir = results.new_run_dir((options.out or paths.REPO / "results") / "soak")
    document = {
        "kind": "soak", "schema_version": 1, "complete": False,
        "metadata": {"project": metadata.collect_project(), "machine": metadata.collect_machine(),
                     "tools": metadata.collect_tools(), "postgres": metadata.collect_postgres(url, embedded),
                     "cluster_lock": clusterlock.current(),
                     "soak": {"started_at": instants.utc_now(), "duration_s": options.duration_s,
                              "connections": options.connections, "sample_s": options.sample_s,
                              "server_cpus": options.server_cpus}},
        "cells": [],
    }
    path = run_dir / "soak.json"

    def measure(cell: catalog.Cell) -> dict:
        err.print(f"soaking {cell.name} for {options.duration_s:.0f} s at {options.connections} connections")
        return soak_cell(cell, options, url, max_id, run_dir / "logs")

    sequence.cell_by_cell(selected, document, path, "soak", measure, empty={"samples": []})
    return path, document


def render(document: dict) -> str:
    from runner.report.formatting import md_table

    rows = []
    for cell in document["cells"]:
        if cell["status"] == "skipped":
            rows.append([cell["name"], "skipped", "", "", "", "", "", cell["reason"]])
            continue
        samples, memory, held = cell["samples"], cell["memory"], cell["db_connections"]
        slope = memory["slope_mib_per_min"]
        rows.append([
            cell["name"], cell["status"], f"{sum(s['requests'] for s in samples):,}",
            f"{cell['errors']} / {cell['non_2xx']}" + (
                " (" + ", ".join(f"{k} {v}" for k, v in cell["errors_by_kind"].items() if v) + ")"
                if cell["errors"] else ""),
            f"{samples[0]['rss_mib']:.1f} → {samples[-1]['rss_mib']:.1f}" if samples else "—",
            "—" if slope is None else f"{slope:+.2f} [{memory['ci95'][0]:+.2f}, {memory['ci95'][1]:+.2f}]",
            f"{held['min']}–{held['max']}, after {held['after_load']} (pool {cell['expected_connections']})"
            if samples else "—",
            " ".join(cell["flags"]) + (f" {cell['reason']}" if cell.get("reason") else ""),
        ])
    soak_meta = document["metadata"]["soak"]
    head = (f"# dbbench soak: {soak_meta['duration_s']:.0f} s per cell at {soak_meta['connections']} connections, "
            f"sampled every {soak_meta['sample_s']} s\n\n")
    return head + md_table(["cell", "status", "requests", "errors / non-2xx", "RSS MiB first → last",
                            "RSS slope MiB/min [95%]", "DB connections under load, after", "flags"], rows) + "\n"

