"""Tuned pool sizes: a pool-size sweep per cell, and the smallest pool that is as good as the best.

`dbbench tune` sweeps `pool-size` over a small ladder plus the rule's size, at the run's
concurrency, with the same rigour as `run` (sweep.py). For each cell the best pool is the
one with the highest median throughput, and the tuned pool is the smallest one whose median
lies within the best's 95% interval: the data cannot tell it from the best, and a smaller
pool holds fewer connections. The choice, with its evidence, is kept in the state
directory, keyed by what it was measured for (cell, scenario, connections, server CPUs);
`dbbench run --pool-size tuned` uses it, and its results say which pool each cell ran with
and why.
"""

from __future__ import annotations

import json
from pathlib import Path

from runner import cells, metadata, paths, results, sweep
from runner.errors import DbbenchError
from runner.run import Plan, RunOptions


def store() -> Path:
    return paths.state_home() / "tuned-pools.json"


def key_of(cell_name: str, scenario: str, connections: int, server_cpus: int) -> str:
    return f"{cell_name} {scenario} c{connections} cpus{server_cpus}"


def choose(points: list[tuple[int, dict]]) -> dict:
    """From a cell's (pool size, cell record) points: the best and the smallest as good."""
    measured = [(pool, cell) for pool, cell in points if cell.get("rps_median") and cell["status"] == "ok"]
    if not measured:
        raise DbbenchError("no pool size was measured")
    best_pool, best = max(measured, key=lambda point: point[1]["rps_median"])
    floor = best["rps_ci95"][0] if best.get("rps_ci95") else best["rps_median"]
    pool = min(size for size, cell in measured if cell["rps_median"] >= floor)
    return {"pool": pool, "best_pool": best_pool, "best_rps": best["rps_median"], "best_ci95": best.get("rps_ci95"),
            "rps_by_pool": {str(size): cell["rps_median"] for size, cell in measured}}


def tune(options: RunOptions, ladder: list[int]) -> tuple[Path, dict]:
    """Sweep the ladder and the rule's pool for the selected cells; record each cell's choice."""
    plan = Plan.resolve(options)
    rule = cells.pool_size_for(plan.connections, options.server_cpus)
    values = sorted(set(ladder) | {rule})
    path, document = sweep.sweep(options, "pool-size", values, out=None)
    chosen = {}
    for cell_name, points in sweep.series(document).items():
        found = choose(points)
        within = ("the smallest pool whose median is within the best's 95% interval" if found["best_ci95"] else
                  "the best pool: too few slices for a 95% interval, so no smaller pool could be called as good")
        found.update(rule_pool=rule, measured_at=document["started_at"], sweep=str(path),
                     why=f"tuned: {within} (best {found['best_pool']}, ladder {', '.join(map(str, values))}) by "
                         f"dbbench tune at {document['started_at']}")
        chosen[key_of(cell_name, plan.scenario.name, plan.connections, options.server_cpus)] = found
    if not chosen:
        raise DbbenchError(f"no cell was measured at any pool size: see {path}")
    recorded = load_store()
    recorded.update(chosen)
    results.write_json(recorded, store())
    document["tuned"] = chosen
    results.write_json(document, path)
    return path, chosen


def load_store() -> dict:
    try:
        return json.loads(store().read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise DbbenchError(f"cannot read {store()}: {exc}") from None


def tuned_pools(options: RunOptions) -> dict[str, dict]:
    """`run --pool-size tuned`: the recorded choice for every selected cell under this load, or
    a one-line error naming the first cell that has none and how to make it."""
    plan = Plan.resolve(options)
    recorded = load_store()
    found = {}
    for cell in cells.manifest().select(options.frameworks, options.variants, options.everything):
        choice = recorded.get(key_of(cell.name, plan.scenario.name, plan.connections, options.server_cpus))
        if choice is None:
            raise DbbenchError(f"no tuned pool for {cell.name} ({plan.scenario.name}, {plan.connections} connections, "
                               f"{options.server_cpus} server CPU(s)): run dbbench tune with the same options first")
        found[cell.name] = choice
    return found


def render(chosen: dict) -> str:
    from runner.report import md_table

    rows = [[key.split(" ")[0], str(found["pool"]), str(found["best_pool"]), str(found["rule_pool"]),
             ", ".join(f"{pool}: {rps:,.0f}" for pool, rps in found["rps_by_pool"].items())]
            for key, found in chosen.items()]
    stamp = metadata.utc_now()
    return (f"# dbbench tune ({stamp})\n\nTuned: the smallest pool whose median RPS is within the best pool's "
            "95% interval.\n\n" + md_table(["cell", "tuned pool", "best pool", "rule's pool", "median RPS by pool"],
                                           rows) + "\n")
