"""The results document a run starts with, before its first slice: what ran, on what (machine,
PostgreSQL, the data), with which versions (tools, stacks, Go), and how (plan, groups, noise
thresholds, proxy, sweep, preset, open loop). Every slice is added to it as it is measured."""

from __future__ import annotations

from typing import TYPE_CHECKING

from runner.base import instants
from runner.cells import presets
from runner.db import clusterlock
from runner.measure import metadata, noise, openloop
from runner.measure.options import RunOptions
from runner.report import cost, parity, results

if TYPE_CHECKING:
    from runner.measure.run import Run


def new_document(run: Run, runnable: list[str], available: int) -> dict:
    """The results document a run starts with: what ran, on what, with which versions, and how."""
    plan, rule = run.plan, run.plan.rule
    used = [] if run.options.target else [run.members[name].cell for name in runnable]
    return {
        "schema_version": results.SCHEMA_VERSION,
        "complete": False,
        "metadata": {
            "project": metadata.collect_project(),
            "machine": metadata.collect_machine(),
            "tools": {**metadata.collect_tools(), **({"oha": run.generator} if run.generator else {})},
            "stacks": metadata.collect_stacks({cell.stack for cell in used if cell.is_python}),
            "go": metadata.collect_go(any(not cell.is_python for cell in used)),
            "postgres": metadata.collect_postgres(run.url, run.embedded),
            "cluster_lock": clusterlock.current(),
            "dataset": metadata.collect_dataset(run.url),
            "run": {
                "started_at": instants.utc_now(), "finished_at": None, "scenario": plan.scenario.name,
                "scenario_description": plan.scenario.description, "connections": plan.connections,
                "wrk_threads": plan.scenario.threads, "slice_s": plan.slice_s, "warmup_s": plan.warmup_s,
                "primer_s": plan.primer_s, "warmed": "side by side, each group's cells at once",
                "rounds_fixed": rule.rounds, "budget_s": rule.budget_s,
                "precision_target": None if rule.rounds else rule.precision,
                "server_cpus": run.options.server_cpus, "shuffle_seed": plan.seed,
                "quick": run.options.quick, "pinning": run.pinning.note, "anchor": run.anchor,
                "connections_available": available, "max_cells_up": max(len(g) for g in run.groups),
                "noise_thresholds": {"steal": noise.DISTURBED_STEAL,
                                     "outside_cores": noise.DISTURBED_OUTSIDE_CORES},
                "groups": [], "order": [], "database_outages": [], "stop_reason": None,
                "endpoints": list(plan.scenario.endpoints), "weights": plan.scenario.weights,
                "writes": plan.scenario.writes, "restored": [run.restore_before],
                "db_latency_ms": run.options.db_latency_ms, "proxy": None, "target": run.options.target,
                "faults": [], "open_loop": open_loop_meta(run.options, run.generator), "sweep": sweep_meta(run.options),
                "preset": preset_meta(run.options), "parity": run.options.parity,
                # the published parity run's ratios (docs/parity/), which this run's report states
                "parity_published": None if run.options.parity else parity.published_summary(),
                # the published cost run's instructions per request (docs/cost/), which this run's report states
                "cost_published": cost.published_summary(),
                **({"queries_n": run.options.queries_n} if "queries" in plan.scenario.endpoints else {}),
            },
        },
        "cells": list(run.records.values()),
    }

def preset_meta(options: RunOptions) -> dict | None:
    """The preset a run measures, with the prices (pairs of cells) its report shows."""
    if options.preset is None:
        return None
    chosen = presets.preset(options.preset)
    return {"name": chosen.name, "summary": chosen.summary, "prices": [p.as_dict() for p in chosen.prices]}

def sweep_meta(options: RunOptions) -> dict | None:
    """A paired sweep: its parameter and values, each an instance of every selected cell."""
    if options.points is None:
        return None
    param, values = options.points
    return {"param": param, "values": values, "paired": True}

def open_loop_meta(options: RunOptions, generator: str | None) -> dict | None:
    if not options.open_loop:
        return None
    return {"generator": generator, "rate": options.rate, "rates": options.rates,
            "correction": openloop.CORRECTION, "held_fraction": openloop.HELD_FRACTION,
            "late_ms": openloop.LATE_MS, "warm_up": "closed loop (wrk), as in every run"}
