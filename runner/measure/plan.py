"""A run's plan from its options: the scenario, slice and warm-up lengths, the stopping rule; the
members (cell instances, points of a sweep) and the record each starts with; the connections a
group may hold under max_connections."""

from __future__ import annotations

import random
from dataclasses import dataclass

from runner.base import scenarios
from runner.cells import catalog
from runner.cells.minimal import MinimalApp, minimal_app_of
from runner.db import database
from runner.measure import openloop, schedule
from runner.measure.options import DEFAULT_PRECISION, RATE_MIN_SLICE_S, RATE_ROUNDS, RunOptions, default_budget

RESERVED_CONNECTIONS = 5


@dataclass
class Plan:
    """The options resolved against the scenario and --quick."""

    scenario: scenarios.Scenario
    connections: int
    slice_s: float
    warmup_s: int
    primer_s: int
    rule: schedule.StoppingRule
    seed: int

    @classmethod
    def resolve(cls, options: RunOptions) -> Plan:
        scenario = scenarios.load_scenario(options.scenario)
        quick = options.quick
        budget = options.budget_s or default_budget(options)  # scaled in Run.prepare
        precision = None if options.spend_budget else options.precision or DEFAULT_PRECISION
        rounds = options.rounds
        slice_s = options.slice_s or (1 if quick else scenario.slice_s)
        if options.open_loop:
            openloop.check_scenario(scenario)
            precision = None
            rounds = rounds or (None if options.budget_s else RATE_ROUNDS)
            slice_s = options.slice_s or max(slice_s, RATE_MIN_SLICE_S)
        return cls(
            scenario=scenario,
            connections=options.connections or scenario.connections,
            slice_s=slice_s,
            warmup_s=1 if quick or options.short_warmup else scenario.warmup_s,
            primer_s=0 if quick or options.short_warmup else scenario.primer_s,
            rule=schedule.StoppingRule(budget_s=budget, precision=precision, rounds=rounds),
            seed=options.seed if options.seed is not None else random.SystemRandom().randrange(2**31),
        )


@dataclass(frozen=True)
class Instance:
    """One cell of the run under its own name: an A/A calibration runs one cell twice, a paired
    sweep once per point (`point`: the parameter and its value for this instance), a parity run
    each cell beside its minimal app (`minimal`: served in the cell's place)."""

    name: str
    cell: catalog.Cell
    point: tuple[str, int] | None = None
    minimal: MinimalApp | None = None


def members_of(selected: list[catalog.Cell], instances: int,
               points: tuple[str, list[int]] | None = None, parity: bool = False) -> list[Instance]:
    if parity:
        return [member for cell in selected for member in (
            Instance(cell.name, cell), Instance(f"{cell.name} (minimal)", cell, minimal=minimal_app_of(cell)))]
    if points is not None:
        param, values = points
        return [Instance(f"{cell.name} @{param}={value}", cell, (param, value))
                for cell in selected for value in values]
    if instances == 1:
        return [Instance(cell.name, cell) for cell in selected]
    return [Instance(f"{cell.name} ({chr(ord('A') + i)})", cell) for cell in selected for i in range(instances)]


def cell_record(member: Instance, plan: Plan, options: RunOptions) -> dict:
    """What a member is run with: the options, with its sweep point's value in place of one."""
    cell = member.cell
    point = dict([member.point]) if member.point else {}
    server_cpus = point.get("server-cpus", options.server_cpus)
    connections = point.get("connections", plan.connections)
    processes = cell.processes(server_cpus)
    if "pool-size" in point:
        pool, why = point["pool-size"], "the sweep's point"
    elif options.tuned_pools and cell.name in options.tuned_pools:
        pool, why = options.tuned_pools[cell.name]["pool"], options.tuned_pools[cell.name]["why"]
    elif options.pool_size:
        pool, why = options.pool_size, "--pool-size"
    else:
        pool = catalog.pool_size_for(connections, processes)
        why = options.untuned_why or "rule: each worker's share of the connections plus 12.5% (at least 4 more)"
    rate = options.rates.get(cell.name) if options.rates is not None else options.rate
    settings = cell.settings_for(options.pooler)
    unfit = {"status": "skipped", "reason": f"not run behind {options.pooler}: {settings}"} \
        if isinstance(settings, str) else {}
    return {
        "name": member.name, "framework": cell.framework.name, "variant": cell.variant.name,
        "strategy": cell.variant.strategy, "kind": cell.framework.kind, "reference": cell.framework.reference,
        "server": f"remote, at {options.target}" if options.target else cell.framework.server,
        "remote": options.target is not None, "scenario": plan.scenario.name, "connections": connections,
        "settings": settings if isinstance(settings, dict) else cell.settings, "legacy": cell.legacy,
        "note": cell.framework.note,
        "pool_size": pool, "pool_why": why, "workers": processes, "server_cpus": server_cpus,
        "pool_ladder": (options.tuned_pools or {}).get(cell.name, {}).get("ladder") if not point else None,
        "db_latency_ms": point.get("db-latency", options.db_latency_ms),
        "point": {"param": member.point[0], "value": member.point[1], "of": cell.name} if member.point else None,
        "minimal": {"app": member.minimal.app, "follows": member.minimal.follows, "server": member.minimal.server,
                    "of": cell.name} if member.minimal else None,
        "status": "ok",
        "reason": None, "verification": None, "statements_per_request": {}, "slices": [],
        "rps_median": None, "rps_ci95": None, "rank": None, "rate_target": rate,
        **({"status": "skipped", "reason": "no rate was given for it"} if options.open_loop and rate is None else {}),
        **unfit,
    }


def file_slug(name: str) -> str:
    """A member's name as part of a file name: "fastapi/raw (A)" -> "fastapi-raw-A"."""
    return name.replace("/", "-").replace(" ", "").replace("(", "-").replace(")", "")


def held_connections(record: dict) -> int:
    """Every worker of a cell opens its whole pool at start-up."""
    return record["pool_size"] * record["workers"]


def available_connections(url: str) -> tuple[int, int]:
    """Connections the cells may hold (max_connections less reserved ones), and max_connections."""
    with database.connect(url) as conn:
        limit = int(conn.execute("SHOW max_connections").fetchone()[0])
        reserved = int(conn.execute("SHOW superuser_reserved_connections").fetchone()[0])
    return limit - reserved - RESERVED_CONNECTIONS, limit
