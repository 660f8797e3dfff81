"""Tuned pool sizes: a paired pool-size sweep per cell, and the smallest pool as good as the best.

`dbbench tune` measures a ladder of pool sizes plus the rule's as warm instances of each cell
in the same shuffled rounds (a paired sweep, sweep.py), so every pool's throughput is a
blocked ratio to the cell's best pool with its 95% interval. The tuned pool is the smallest
one whose ratio cannot be told from 1: the data cannot tell it from the best, and a smaller
pool holds fewer connections. A pool whose ratio has no interval yet is not called as good.

The choice and its evidence (the ladder's ratios) are kept in the state directory, keyed by
everything that changes the answer: the cell and its lock file, the scenario, connections,
server CPUs, the added round trip, the machine (CPU model and count) and the PostgreSQL
settings. A run uses it when its key matches, and tunes first when none does. Tuning is its
own run: the pool is chosen on slices other than those that rank the cell, since choosing
and ranking on the same slices would favour the luckiest pool.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import threading
from collections.abc import Callable
from pathlib import Path

from runner.base import instants, paths
from runner.base.errors import DbbenchError
from runner.cells import builds, catalog, environments
from runner.db import database, seeding
from runner.experiments import sweep
from runner.measure import metadata, wrk
from runner.measure.options import AFTER_TUNING_BUDGET_S, DEFAULT_BUDGET_CELLS, DEFAULT_BUDGET_S, RunOptions
from runner.measure.plan import Plan
from runner.report import formatting, results, tables

# 32 was the best in none of the 21 ladders of three tunings at 100 s a cell (2 December 2026,
# the default cells: the best was 4, 8 or 16; the third was made after this change, with 32
# asked for), and it was twice the noisy best of a first tuning at 50 s a cell. The rule's pool
# is measured beside the ladder, so a load that wants a large pool still shows one as the best.
LADDER = [4, 8, 16]
# Half-second slices, as the scenarios' runs: in five back-to-back pairs of default runs they
# gave intervals 7-25% narrower than 1 s slices (README, "The slice length, measured").
TUNE_SLICE_S = 0.5
# This much per cell tuned, start-up included: four instances at 40 s get the slices each that
# five got at 50 s (7 cells: 350 s budgeted, 368 s measured with five).
TUNE_BUDGET_PER_CELL_S = 40
TUNE_BUDGET_MIN_S = 100
# Each cell's sweep beyond its budget: plan, metadata, the stops after its deadline (measured:
# 285 s and 287 s for 7 cells at 40 s each, with the instances stopped together), for the time
# the progress announces.
TUNE_OVERHEAD_PER_CELL_S = 1
EQUIVALENT = 0.90  # "as good as the best": an interval containing 1 and a lower bound at 90% or more
# 5: the ladder without 32, at 40 s a cell. 4: one paired sweep per cell, 1 s warm-ups, the best
# pool where inconclusive (3 kept the rule's there: an independent paired check found the rule's
# 72 below the best for 4 of 7 cells, the best of the first ladder within the second's interval
# for 7 of 7). Choices made by an earlier method are not reused.
METHOD = 5
KEY_SETTINGS = ("server_version", "max_connections", "shared_buffers", "work_mem", "synchronous_commit",
                "max_worker_processes")


def budget_for(cells_tuned: int) -> float:
    return max(TUNE_BUDGET_MIN_S, TUNE_BUDGET_PER_CELL_S * cells_tuned)


def store() -> Path:
    return paths.state_home() / "tuned-pools.json"


def cell_lock(cell: catalog.Cell) -> str:
    """The digest of what the cell's dependencies are pinned by: its stack's lock file, or Gin's go.sum."""
    if cell.is_python:
        return environments.lock_digest(cell.stack)
    return hashlib.sha256((builds.GIN_DIR / "go.sum").read_bytes()).hexdigest()


def key_parts(cell: catalog.Cell, scenario: str, connections: int, server_cpus: int, db_latency_ms: int,
              machine: dict, postgres: dict, pooler: str | None = None) -> dict:
    """Everything a tuned pool depends on, as the results' metadata records it (a pooler only where
    one ran, so that the pools recorded without one keep their keys)."""
    settings = postgres.get("settings", {})
    return {"cell": cell.name, "method": METHOD, "lock": cell_lock(cell)[:16], "scenario": scenario,
            "connections": connections,
            "server_cpus": server_cpus, "db_latency_ms": db_latency_ms, "cpu_model": machine.get("cpu_model"),
            "cpu_count": machine.get("cpus_available") or machine.get("cpu_count"),
            "postgres": {name: settings.get(name) for name in KEY_SETTINGS}, **({"pooler": pooler} if pooler else {})}


def digest_of(parts: dict) -> str:
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]
    return f"{parts['cell']} {parts['scenario']} c{parts['connections']} {digest}"


def choose(points: list[tuple[int, dict]], ratios: dict[str, dict], rule_pool: int | None = None) -> dict:
    """From a cell's (pool size, instance record) points and their ratios to the best point:
    the best pool, and the smallest as good: its ratio's interval contains 1, and its lower end
    is at EQUIVALENT or more, so that a pool a few noisy rounds merely failed to tell apart from
    the best (an interval of [0.6-1.1], say) is not taken for one as good. When no other pool
    is as good and the best cannot be told from the rule's pool either, the ladder is
    inconclusive, and says so; the best is kept all the same. Keeping the rule's pool there
    instead (method 3) failed an independent paired check: the rule's 72 was below the best
    for 4 of 7 cells, the first ladder's best within the second's interval for 7 of 7."""
    measured = [(pool, cell) for pool, cell in points if cell.get("rps_median") and cell["status"] == "ok"]
    if not measured:
        raise DbbenchError("no pool size was measured")
    names = {cell["name"] for _, cell in measured}
    references = {found["b"] for name, found in ratios.items() if name in names}  # the point the ratios are to
    best_pool = next((pool for pool, cell in measured if cell["name"] in references), None)
    if best_pool is None:
        best_pool = max(measured, key=lambda point: point[1]["rps_median"])[0]
    ladder = {}
    as_good = [best_pool]
    for pool, cell in measured:
        found = ratios.get(cell["name"])
        if pool == best_pool:
            ladder[str(pool)] = {"ratio": 1.0, "ci95": None, "best": True}
        else:  # no ratio: the point was not clean (errors in its slices), and is shown as "—"
            ladder[str(pool)] = {"ratio": (found or {}).get("ratio"), "ci95": (found or {}).get("ci95"),
                                 "best": False}
        if found is not None and found["ci95"] is not None and found["tie"] and found["ci95"][0] >= EQUIVALENT:
            as_good.append(pool)
    rule_ratio = next((ratios.get(cell["name"]) for pool, cell in measured if pool == rule_pool), None)
    inconclusive = as_good == [best_pool] and rule_pool not in (None, best_pool) and rule_ratio is not None \
        and rule_ratio["ci95"] is not None and rule_ratio["tie"]
    return {"pool": min(as_good), "best_pool": best_pool, "ladder": ladder,
            "inconclusive": inconclusive, "rps_by_pool": {str(pool): cell["rps_median"] for pool, cell in measured}}


def tune(options: RunOptions, ladder: list[int], log: Callable[[str], None]) -> tuple[list[Path], dict]:
    """Each selected cell's ladder and the rule's pool in a paired sweep of its own, the budget
    shared equally; each cell's choice recorded. One cell at a time keeps all of its pools in
    one group, so every ratio is measured within rounds, never through an anchor. Each pool's
    instance gets 1 s of warm-up: the scenario's 6 s for each of five instances took 30 s of a
    cell's 50 s, and every instance is warmed alike, so the pairing holds."""
    plan = Plan.resolve(options)
    rule = catalog.pool_size_for(plan.connections, options.server_cpus)
    values = sorted(set(ladder) | {rule})
    selected = options.selected_cells()
    share = options.budget_s / len(selected) if options.budget_s else None
    chosen, kept = {}, []
    for number, cell in enumerate(selected, start=1):
        if len(selected) > 1:
            log(f"tuning {number} of {len(selected)}: {cell.name}")
        path, document = sweep.sweep(dataclasses.replace(options, only=[cell.name], budget_s=share,
                                                         short_warmup=True), "pool-size", values, out=None)
        kept.append(path)
        if not sweep.is_paired(document):
            log(f"{cell.name}: the pool-size sweep measured nothing (see {path}); it keeps the rule")
            continue
        found = choose_for(cell, document, plan, options, values, rule, path)
        if found is not None:
            chosen[digest_of(found["key"])] = found
            document["tuned"] = {digest_of(found["key"]): found}
            results.write_json(document, path)
    if not chosen:
        raise DbbenchError(f"no cell was measured at any pool size: see {', '.join(map(str, kept))}")
    recorded = load_store()
    recorded.update(chosen)
    results.write_json(recorded, store())
    return kept, chosen


def choose_for(cell: catalog.Cell, document: dict, plan: Plan, options: RunOptions, values: list[int], rule: int,
               path: Path) -> dict | None:
    """A cell's choice from its own sweep, with its evidence and its key."""
    meta = document["results"]["metadata"]
    points = sweep.series(document).get(cell.name)
    if not points:
        return None
    found = choose(points, sweep.point_ratios(document), rule)
    parts = key_parts(cell, plan.scenario.name, plan.connections, options.server_cpus, options.db_latency_ms,
                      meta["machine"], meta["postgres"], options.pooler)
    if found["inconclusive"]:
        reason = (f"the best pool, inconclusive: the ladder could not tell it from the rule's ({rule}), nor any "
                  "smaller pool from it")
    elif found["pool"] != found["best_pool"]:
        reason = (f"the smallest pool as good as the best (its paired ratio's 95% interval holds 1 and starts at "
                  f"{EQUIVALENT:.2f} or above)")
    elif found["pool"] == rule:
        reason = "the best pool, the rule's (no smaller one was shown as good)"
    else:
        reason = "the best pool (no smaller one was shown as good, and the rule's was shown worse)"
    found.update(rule_pool=rule, measured_at=document["started_at"], sweep=str(path), key=parts,
                 why=f"tuned: {reason}; best {found['best_pool']}, ladder {', '.join(map(str, values))}, "
                     f"by dbbench tune at {document['started_at']}")
    return found


def load_store() -> dict:
    try:
        return json.loads(store().read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise DbbenchError(f"cannot read {store()}: {exc}") from None


def lookup(selected: list[catalog.Cell], scenario: str, connections: int, server_cpus: int, db_latency_ms: int,
           machine: dict, postgres: dict, pooler: str | None = None) -> tuple[dict[str, dict], list[catalog.Cell]]:
    """The recorded choice for each cell under this key, and the cells that have none."""
    recorded = load_store()
    found, missing = {}, []
    for cell in selected:
        choice = recorded.get(digest_of(key_parts(cell, scenario, connections, server_cpus, db_latency_ms, machine,
                                               postgres, pooler)))
        if choice is None:
            missing.append(cell)
        else:
            found[cell.name] = choice
    return found, missing


def with_tuned_pools(options: RunOptions, log: Callable[[str], None], budget_s: float | None = None,
                     no_tuning: str | None = None) -> RunOptions:
    """`run`'s default: each selected cell at the pool recorded for this key. Cells with none
    are tuned first, in a paired sweep of their own (`budget_s`, else TUNE_BUDGET_PER_CELL_S
    each) written beside the run's results, unless there is a reason not to (`no_tuning`:
    --quick, a constant rate, a preset), when they keep the rule's pool and say why."""
    plan = Plan.resolve(options)
    chosen = options.selected_cells()
    selected = [cell for cell in chosen if builds.availability(cell)[0] and not (
        cell.unserved(plan.scenario.endpoints) or cell.redundant(plan.scenario.endpoints)
        or isinstance(cell.settings_for(options.pooler), str))]
    url, embedded = database.database_url(options.db_url)
    with building_in_background(selected):
        seeding.ensure_seeded(url, options.users, log=log)
    context = dict(scenario=plan.scenario.name, connections=plan.connections, server_cpus=options.server_cpus,
                   db_latency_ms=options.db_latency_ms, machine=metadata.collect_machine(),
                   postgres=metadata.collect_postgres(url, embedded), pooler=options.pooler)
    found, missing = lookup(selected, **context)
    tuning = bool(missing) and no_tuning is None
    if tuning:
        budget = budget_s or budget_for(len(missing))
        shorter = ("" if options.budget_s or options.rounds or options.quick else
                   f"; then the run's shorter first budget, {AFTER_TUNING_BUDGET_S} s for up to "
                   f"{DEFAULT_BUDGET_CELLS} cells instead of {DEFAULT_BUDGET_S} s")
        log(f"no tuned pool recorded for {', '.join(cell.name for cell in missing)} at this load, machine and "
            f"PostgreSQL: tuning first (a paired pool-size sweep, about "
            f"{(budget + TUNE_OVERHEAD_PER_CELL_S * len(missing)) / 60:.1f} min; its slices are not "
            f"the ranking's{shorter})")
        wrk.wrk_binary()
        kept, _ = tune(dataclasses.replace(options, only=[cell.name for cell in missing], preset=None,
                                           budget_s=budget, rounds=None, precision=None, spend_budget=True,
                                           slice_s=options.slice_s or TUNE_SLICE_S, seed=None, pages=False),
                       LADDER, log)
        log("the ladders' pages are left undrawn, in the run's time: `dbbench report DIR --format html` draws "
            f"one, DIR among {', '.join(str(path.parent) for path in kept)}")
        found, missing = lookup(selected, **context)
    pools = {name: {"pool": choice["pool"], "why": choice["why"], "ladder": choice.get("ladder")}
             for name, choice in found.items()}
    untuned = ("rule: no tuned pool recorded for this load and machine"
               + (f" ({no_tuning})" if no_tuning else "")) if missing else None
    if options.preset and missing and pools:
        # A preset's prices compare its cells two by two: at one pool policy, or a price would
        # hold the tuning's effect too (a tuned pool of 4 against the rule's 72).
        untuned = (f"rule: not every cell of preset {options.preset} has a tuned pool recorded for this load and "
                   f"machine ({', '.join(cell.name for cell in missing)} have none), so all take the rule's, "
                   "and each price compares cells at one pool policy")
        pools = {}
    return dataclasses.replace(options, tuned_pools=pools, untuned_why=untuned, tuned_first=tuning)


@contextlib.contextmanager
def building_in_background(selected: list[catalog.Cell]):
    """The cells' environments and binaries built while the block runs (the seed, about 25 s;
    a fresh machine's first run builds the gino environment for about 10 s and Gin for up to
    100 s on a cold Go cache), and done when it ends. A build that fails is left for the run to meet and record
    against its cells; a daemon thread, so that an interrupted command does not wait for it,
    and whose build processes die with the command."""
    def build_each():
        for cell in selected:
            with contextlib.suppress(DbbenchError):
                builds.build(cell)

    builder = threading.Thread(target=build_each, name="builds", daemon=True)
    builder.start()
    yield
    builder.join()


def render(chosen: dict) -> str:
    rows = [[found["key"]["cell"], str(found["pool"]), str(found["best_pool"]), str(found["rule_pool"]),
             tables.ladder_text(found["ladder"])] for found in chosen.values()]
    stamp = instants.utc_now()
    return (f"# dbbench tune ({stamp})\n\nTuned: the smallest pool whose paired ratio to the best pool has a 95% "
            f"interval containing 1 and starting at {EQUIVALENT:.2f} or above; where the ladder is inconclusive (the "
            "best cannot be told from the rule's, and no smaller pool is shown as good), the best pool, marked so.\n\n"
            + formatting.md_table(["cell", "tuned pool", "best pool", "rule's pool",
                                                            "ratio to the best pool by pool [95%]"], rows) + "\n")
