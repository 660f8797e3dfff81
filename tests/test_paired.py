"""Paired sweeps and tuned pools, on synthetic slices and plans: what they must recover and keep
apart, without a database (test_sweep.py measures them for real)."""

from __future__ import annotations

import contextlib
import copy
import json
import math
import random
import threading
from pathlib import Path

import pytest

from runner.base.errors import DbbenchError
from runner.cells import catalog
from runner.experiments import sweep, tune
from runner.measure import schedule
from runner.measure.options import RunOptions
from runner.measure.plan import Instance, Plan, cell_record, held_connections, members_of
from runner.report import results, stats

EXAMPLE = Path(__file__).resolve().parent.parent / "docs" / "example" / "results.json"
TRUE_RATIOS = {4: 0.80, 8: 1.00, 16: 0.95, 32: 0.90}  # each pool's throughput over the best (8)


def drift(minute: float) -> float:
    """The host's speed: it loses a third of its throughput over ten minutes."""
    return 1.0 - 0.033 * minute


def synthetic_sweep(rounds: int, rng: random.Random) -> dict:
    """A paired pool-size sweep of one cell as results.finalize sees it: every point once per
    round, in a shuffled order, under a steady drift and 3% noise per slice."""
    template = json.loads(EXAMPLE.read_text())
    base = next(c for c in template["cells"] if c["name"] == "fastapi/raw")
    document = {**template, "cells": []}
    document["metadata"] = copy.deepcopy(template["metadata"])
    document["metadata"]["run"]["anchor"] = None
    for pool in TRUE_RATIOS:
        cell = copy.deepcopy(base)
        cell.update(name=f"fastapi/raw @pool-size={pool}", pool_size=pool, slices=[], reference=False,
                    point={"param": "pool-size", "value": pool, "of": "fastapi/raw"})
        document["cells"].append(cell)
    slot = 0
    for round_no in range(1, rounds + 1):
        order = document["cells"][:]
        rng.shuffle(order)
        for position, cell in enumerate(order, start=1):
            slot += 1
            speed = drift(slot * 4 / 60) * math.exp(rng.gauss(0, 0.03))
            piece = copy.deepcopy(base["slices"][0])
            piece.update(group=1, round=round_no, position=position, repeat=False, disturbed=False,
                         rps=3000 * TRUE_RATIOS[cell["pool_size"]] * speed)
            cell["slices"].append(piece)
    return document


def test_a_paired_sweep_recovers_known_ratios_under_drift_where_sequential_points_do_not():
    rng = random.Random(11)
    paired = results.finalize(synthetic_sweep(rounds=12, rng=rng))
    found = {c["a"]: c for c in paired["summary"]["comparisons"] if c["kind"] == "point"}
    assert set(found) == {f"fastapi/raw @pool-size={pool}" for pool in (4, 16, 32)}
    assert all(c["b"] == "fastapi/raw @pool-size=8" for c in found.values())
    for pool in (4, 16, 32):
        low, high = found[f"fastapi/raw @pool-size={pool}"]["ci95"]
        assert low <= TRUE_RATIOS[pool] <= high, (pool, low, high)
        assert high - low < 0.08
    # The same points measured one after the other (4, 8, 16, 32; 12 slices each): each point's own
    # median carries the drift of its place in the sequence, and the ratios it gives are wrong.
    sequential = {}
    slot = 0
    for pool, truth in TRUE_RATIOS.items():
        speeds = []
        for _ in range(12):
            slot += 4
            speeds.append(3000 * truth * drift(slot * 4 / 60) * math.exp(rng.gauss(0, 0.03)))
        sequential[pool] = stats.estimate(speeds)
    unpaired = sequential[32].median / sequential[8].median
    assert abs(unpaired - TRUE_RATIOS[32]) > 0.08, "the drift should show in an unpaired ratio"
    assert sequential[32].ci95[1] < TRUE_RATIOS[32] * sequential[8].median, \
        "an unpaired point's own interval does not hold what the pool is worth"


def paired_document(rounds: int = 12) -> dict:
    return {"kind": "sweep", "param": "pool-size", "values": list(TRUE_RATIOS), "paired": True,
            "results": results.finalize(synthetic_sweep(rounds, random.Random(5)))}


def test_series_and_ratios_of_a_paired_sweep_follow_the_values():
    document = paired_document()
    (name, points), = sweep.series(document).items()
    assert name == "fastapi/raw" and [value for value, _ in points] == [4, 8, 16, 32]
    ratios = sweep.point_ratios(document)
    assert "fastapi/raw @pool-size=8" not in ratios and len(ratios) == 3
    assert sweep.run_of(document, 16) is document["results"]
    assert sweep.instance_name(document, "fastapi/raw", 16) == "fastapi/raw @pool-size=16"
    assert "ratio to best [95%]" in sweep.render(document) and "| fastapi/raw | 8 |" in sweep.render(document)


def test_tune_takes_the_smallest_pool_as_good_as_the_best_and_not_one_merely_not_told_apart():
    best = "a @pool-size=8"
    ratios = {"a @pool-size=4": {"b": best, "ratio": 0.80, "ci95": [0.60, 1.05], "tie": True},  # wide: not good
              "a @pool-size=16": {"b": best, "ratio": 0.97, "ci95": [0.93, 1.02], "tie": True},
              "a @pool-size=32": {"b": best, "ratio": 0.90, "ci95": [0.86, 0.95], "tie": False}}
    points = [(pool, {"name": f"a @pool-size={pool}", "rps_median": 100.0 - pool, "status": "ok"})
              for pool in (4, 8, 16, 32)]
    found = tune.choose(points, ratios)
    assert found["best_pool"] == 8 and found["pool"] == 8, "the best is the ratios' reference, not the top median"
    ratios["a @pool-size=4"] = {"b": best, "ratio": 0.99, "ci95": [0.95, 1.04], "tie": True}
    assert tune.choose(points, ratios)["pool"] == 4
    assert tune.choose(points, ratios)["ladder"]["8"] == {"ratio": 1.0, "ci95": None, "best": True}
    del ratios["a @pool-size=32"]  # not clean: no ratio, and never the best
    assert tune.choose(points, ratios)["ladder"]["32"]["ratio"] is None


def test_an_inconclusive_ladder_keeps_its_best_pool_and_says_it_is_inconclusive():
    """The best of a ladder whose other pools are neither as good nor told from the rule's is
    kept, marked inconclusive (the rule's pool, kept there by method 3, failed an independent
    paired check); a rule's pool shown worse makes the ladder conclusive."""
    best = "a @pool-size=8"
    points = [(pool, {"name": f"a @pool-size={pool}", "rps_median": 100.0, "status": "ok"}) for pool in (4, 8, 72)]
    ratios = {"a @pool-size=4": {"b": best, "ratio": 0.80, "ci95": [0.55, 1.10], "tie": True},
              "a @pool-size=72": {"b": best, "ratio": 0.85, "ci95": [0.60, 1.20], "tie": True}}
    found = tune.choose(points, ratios, rule_pool=72)
    assert found["inconclusive"] and found["pool"] == 8 and found["best_pool"] == 8
    ratios["a @pool-size=72"] = {"b": best, "ratio": 0.80, "ci95": [0.74, 0.87], "tie": False}
    found = tune.choose(points, ratios, rule_pool=72)
    assert not found["inconclusive"] and found["pool"] == 8
    ratios["a @pool-size=4"] = {"b": best, "ratio": 0.98, "ci95": [0.93, 1.03], "tie": True}
    assert tune.choose(points, ratios, rule_pool=72)["pool"] == 4
    header = tune.render({})
    assert "where the ladder is inconclusive" in header and "the best pool, marked so" in header, header


def test_the_cells_are_built_while_the_seed_runs_and_a_failed_build_stops_no_other(monkeypatch):
    """A first run builds its cells' environments and Gin beside the seed, not after it; a build
    that fails is left for the run to record against its cell."""
    selected = [catalog.manifest().cell("sanic", "gino-orm"), catalog.manifest().cell("gin", "raw")]
    started, built = threading.Event(), []

    def build(cell):
        started.set()
        built.append(cell.name)
        if cell.is_python:
            raise DbbenchError("building environment 'gino' failed")

    monkeypatch.setattr(tune.builds, "build", build)
    with tune.building_in_background(selected):
        assert started.wait(5), "the builds waited for the seed"
    assert built == ["sanic/gino-orm", "gin/raw"], "every build is done when the block ends"


def test_the_tuned_pool_key_changes_with_each_of_its_parts():
    cell = catalog.manifest().cell("fastapi", "raw")
    machine = {"cpu_model": "A CPU", "cpus_available": 2}
    postgres = {"settings": {"server_version": "15.14", "max_connections": "600", "shared_buffers": "2GB"}}
    base = dict(scenario="by-id", connections=64, server_cpus=1, db_latency_ms=0, machine=machine, postgres=postgres)
    key = tune.digest_of(tune.key_parts(cell, **base))
    changes = [dict(scenario="mix"), dict(connections=32), dict(server_cpus=2), dict(db_latency_ms=2),
               dict(machine={**machine, "cpu_model": "Another CPU"}), dict(machine={**machine, "cpus_available": 4}),
               dict(postgres={"settings": {**postgres["settings"], "shared_buffers": "128MB"}})]
    keys = {tune.digest_of(tune.key_parts(cell, **{**base, **change})) for change in changes}
    assert key not in keys and len(keys) == len(changes)
    other = tune.digest_of(tune.key_parts(catalog.manifest().cell("sanic", "raw"), **base))
    assert other != key
    assert tune.digest_of(tune.key_parts(cell, **base)) == key, "the same parts give the same key"


def test_a_changed_lock_file_changes_the_key(monkeypatch):
    cell = catalog.manifest().cell("fastapi", "raw")
    parts = dict(scenario="by-id", connections=64, server_cpus=1, db_latency_ms=0, machine={}, postgres={})
    before = tune.digest_of(tune.key_parts(cell, **parts))
    monkeypatch.setattr(tune.environments, "lock_digest", lambda stack: "0" * 64)
    assert tune.digest_of(tune.key_parts(cell, **parts)) != before


def test_a_paired_pool_sweep_packs_its_instances_under_max_connections_with_an_anchor_in_each_group():
    options = RunOptions(frameworks=["fastapi", "gin"], variants=["raw"], connections=64,
                         points=("pool-size", [4, 8, 16, 32, 72]))
    plan = Plan.resolve(options)
    selected = catalog.manifest().select(options.frameworks, options.variants, False)
    members = members_of(selected, 1, options.points)
    records = {m.name: cell_record(m, plan, options) for m in members}
    assert [r["pool_size"] for r in records.values()] == [4, 8, 16, 32, 72] * 2
    needs = {name: held_connections(record) for name, record in records.items()}
    groups = schedule.plan_groups(needs, 150, "gin/raw @pool-size=4")
    assert len(groups) > 1
    for group in groups:
        assert sum(needs[name] for name in group) <= 150 and "gin/raw @pool-size=4" in group
    assert {name for group in groups for name in group} == set(needs)


@pytest.mark.parametrize("param, value, field, expected", [
    ("connections", 16, "connections", 16), ("server-cpus", 2, "workers", 2), ("db-latency", 3, "db_latency_ms", 3)])
def test_each_instance_carries_its_own_point(param, value, field, expected):
    options = RunOptions(frameworks=["fastapi"], variants=["raw"], points=(param, [value]))
    member = Instance(f"fastapi/raw @{param}={value}", catalog.manifest().cell("fastapi", "raw"), (param, value))
    record = cell_record(member, Plan.resolve(options), options)
    assert record[field] == expected and record["point"] == {"param": param, "value": value, "of": "fastapi/raw"}
    if param == "connections":
        assert record["pool_size"] == catalog.pool_size_for(16, 1), "the rule's pool follows the point's connections"


def test_a_sweep_whose_slices_are_too_short_for_p99_shows_a_dash_and_why_never_a_zero():
    """As in the sweep of issue 47: slices of 60 requests hold a p50 but no p99 (100 needed)."""
    document = paired_document(rounds=8)
    for cell in document["results"]["cells"]:
        for piece in cell["slices"]:
            piece["requests"] = 60
    document["results"] = results.finalize(document["results"])
    assert all("p99" not in c["latency_ms"] and "p50" in c["latency_ms"] for c in document["results"]["cells"])
    rendered = sweep.render(document)
    header, rows = table_of(rendered)
    assert len(rows) == 4
    for row in rows:
        assert float(row[header.index("p50 ms")]) > 0
        assert row[header.index("p99 ms")] == "—", row
    assert "too few requests" in rendered and "a p99 100" in rendered and "(median slice 60 requests)" in rendered
    # Long enough slices: the p99 is a figure again, and no note stands beside it.
    header, rows = table_of(sweep.render(paired_document(rounds=8)))
    assert all(float(row[header.index("p99 ms")]) > 0 for row in rows)
    assert "too few requests" not in sweep.render(paired_document(rounds=8))


def table_of(markdown: str) -> tuple[list[str], list[list[str]]]:
    """The header and the rows of the first Markdown table, as cells."""
    lines = [line.strip().strip("|").split(" | ") for line in markdown.splitlines() if line.startswith("|")]
    return [cell.strip() for cell in lines[0]], [[cell.strip() for cell in line] for line in lines[2:]]


def test_a_preset_whose_cells_are_not_all_tuned_runs_every_cell_at_the_rule(monkeypatch):
    """A price compares two cells: one at a tuned pool of 4 and the other at the rule's 72 would
    hold the tuning's effect as well as the choice's. A preset that does not tune first runs every
    cell at the rule unless every cell has a tuned pool, and says why."""
    from runner.cells import presets

    options = RunOptions(**presets.selection("stacks", None, None, False))
    assert options.preset == "stacks"
    tuned = {"pool": 4, "why": "tuned: the best pool", "ladder": None}
    monkeypatch.setattr(tune.database, "database_url", lambda url: ("postgresql://x@127.0.0.1:1/x", False))
    monkeypatch.setattr(tune.seeding, "ensure_seeded", lambda url, users, log: None)
    monkeypatch.setattr(tune.metadata, "collect_postgres", lambda url, embedded: {})
    monkeypatch.setattr(tune, "building_in_background", lambda selected: contextlib.nullcontext())
    monkeypatch.setattr(tune, "lookup", lambda selected, **context: ({selected[0].name: tuned}, list(selected[1:])))
    found = tune.with_tuned_pools(options, log=lambda line: None, no_tuning="preset stacks does not tune")
    assert found.tuned_pools == {} and "so all take the rule's" in found.untuned_why
    monkeypatch.setattr(tune, "lookup", lambda selected, **context: ({cell.name: tuned for cell in selected}, []))
    found = tune.with_tuned_pools(options, log=lambda line: None, no_tuning="preset stacks does not tune")
    assert found.tuned_pools and all(choice["pool"] == 4 for choice in found.tuned_pools.values())
    assert found.untuned_why is None, "every cell tuned: each at its own pool"
