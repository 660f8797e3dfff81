"""Presets (apps/presets.toml): named selections of cells and the prices their reports show."""

from __future__ import annotations

import copy
import json
import math
import random
from pathlib import Path

import pytest
from conftest import dbbench

from runner.base.errors import DbbenchError
from runner.cells import presets
from runner.cells.catalog import manifest
from runner.report import prices, results, stats, tables

EXAMPLE = Path(__file__).resolve().parent.parent / "docs" / "example" / "results.json"


def test_every_preset_names_declared_cells_and_prices_between_them():
    chosen = presets.preset("stacks")
    declared = {cell.name for cell in manifest().cells()}
    assert set(chosen.cells) <= declared and len(chosen.cells) == 16
    assert {p.choice for p in chosen.prices} >= {"driver", "ORM", "server", "sync or async"}
    assert all({p.a, p.b} <= set(chosen.cells) for p in chosen.prices)


@pytest.mark.parametrize("text, message", [
    ('[presets.x]\nsummary = "s"\ncells = ["fastapi/nope"]\n', "preset x names 'fastapi/nope'"),
    ('[presets.x]\nsummary = "s"\ncells = ["fastapi/raw"]\n[[presets.x.prices]]\nchoice = "c"\nquestion = "q"\n'
     'a = "fastapi/raw"\nb = "gin/raw"\n', "names gin/raw, which is not one of its cells"),
])
def test_a_preset_with_a_mistake_is_a_one_line_error(tmp_path, monkeypatch, text, message):
    (tmp_path / "presets.toml").write_text(text)
    monkeypatch.setattr(presets, "PRESETS_FILE", tmp_path / "presets.toml")
    presets.presets.cache_clear()
    try:
        with pytest.raises(DbbenchError, match=message) as raised:
            presets.presets()
        assert "\n" not in str(raised.value)
    finally:
        presets.presets.cache_clear()


def test_a_preset_selects_exactly_its_cells_and_cannot_be_mixed_with_flags():
    chosen = presets.selection("stacks", None, None, False)
    from runner.measure.options import RunOptions

    picked = RunOptions(**chosen).selected_cells()
    assert sorted(cell.name for cell in picked) == sorted(presets.preset("stacks").cells), \
        "fastapi-granian/sa-orm is in neither list of the preset, though its framework and variant are"
    with pytest.raises(DbbenchError, match="cannot go with"):
        presets.selection("stacks", ["gin"], None, False)
    result = dbbench("run", "--preset", "stacks", "--all")
    assert result.returncode != 0 and "cannot go with" in result.stderr and "Traceback" not in result.stderr


def test_prices_are_paired_ratios_with_intervals_and_a_reading():
    """A drifting machine: both cells move together from round to round, the chosen one at 0.8 of
    the other. The price recovers 0.8; a pair with a failed cell has no price and says so."""
    rng = random.Random(7)
    blocks = {"fastapi/raw": {}, "fastapi/raw-psycopg": {}}
    for round_ in range(8):
        level = 1000 * math.exp(rng.gauss(0, 0.3))
        blocks["fastapi/raw"][(0, round_)] = level * math.exp(rng.gauss(0, 0.02))
        blocks["fastapi/raw-psycopg"][(0, round_)] = 0.8 * level * math.exp(rng.gauss(0, 0.02))
    cells = [{"name": name, "framework": name.split("/")[0], "variant": name.split("/")[1], "clean": True}
             for name in blocks] + [{"name": "micropie/raw", "framework": "micropie", "variant": "raw",
                                     "clean": False}]
    prices = [{"choice": "driver", "question": "psycopg", "a": "fastapi/raw-psycopg", "b": "fastapi/raw"},
              {"choice": "framework", "question": "MicroPie", "a": "micropie/raw", "b": "fastapi/raw"}]
    found = [c for c in results.comparisons(cells, stats.BlockedComparison(blocks), [], prices)
             if c["kind"] == "price"]
    driver, framework = found
    assert driver["ci95"][0] < 0.8 < driver["ci95"][1] and driver["ci95"][1] < 0.85, driver
    assert framework["ratio"] is None
    document = {"metadata": {"run": {"preset": {"name": "stacks", "summary": "s", "prices": prices}}},
                "summary": {"comparisons": found}}
    section = tables.prices_section(document)
    assert section.rows[0][2] == "fastapi/raw-psycopg over fastapi/raw"
    assert "less throughput" in section.rows[0][4] and "not measured" in section.rows[1][4]


def test_memory_is_the_steady_median_per_worker_and_each_price_says_what_it_adds():
    """Synthetic slices: a two-worker cell whose tree holds 200 MiB but once spiked (a median
    ignores it), against a one-worker cell at 80 MiB; a slice without the figure is left out."""
    rss = [200.0, 204.0, 198.0, 900.0, 202.0, None]
    two = stats.memory_of([{"server_rss_mib": value} for value in rss], workers=2)
    assert two == {"rss_mib": 202.0, "per_worker_mib": 101.0}
    one = stats.memory_of([{"server_rss_mib": 80.0}] * 3, workers=1)
    assert stats.memory_of([{"server_rss_mib": None}], workers=1) is None
    cells = {"a": {"memory_mib": two}, "b": {"memory_mib": one}}
    assert results.memory_change(cells["a"], cells["b"]) == 21.0
    assert results.memory_change(cells["a"], {"memory_mib": None}) is None
    assert tables.memory_change_text({"memory_per_worker_mib": 21.0}) == "+21 MiB per worker"
    assert tables.memory_change_text({"memory_per_worker_mib": -0.3}) == "the same memory per worker (within 1 MiB)"
    assert tables.memory_text({"memory_mib": two}) == "202 (101)"


def test_the_report_says_why_legacy_cells_are_kept_and_what_a_cell_note_adds():
    records = [{"name": f"fastapi/{v}", "framework": "fastapi", "variant": v, "legacy": cell.legacy,
                "note": None} for v, cell in (("gino-orm", manifest().cell("fastapi", "gino-orm")),
                                               ("gino-baked", manifest().cell("fastapi", "gino-baked")))]
    records.append({"name": "django/django-orm", "framework": "django", "variant": "django-orm", "legacy": None,
                    "note": manifest().frameworks["django"].note})
    notes = tables.cell_notes(records)
    assert len(notes) == 2 and "fastapi/gino-orm, fastapi/gino-baked: legacy: GINO is unmaintained" in notes[0]
    assert "sync_to_async" in notes[1]


def synthetic_preset_run(scenario: str, ratio: float, rng: random.Random, hour: int, pooler: bool = False) -> dict:
    """A preset run as results.finalize sees it: fastapi/raw and fastapi/raw-psycopg, each once per
    round in a shuffled order, on a host that drifts (a third slower over the run, 3% noise per
    slice); raw-psycopg at `ratio` of raw; raw-psycopg's workers hold 5 MiB more."""
    template = json.loads(EXAMPLE.read_text())
    base = next(c for c in template["cells"] if c["name"] == "fastapi/raw")
    document = {**template, "cells": []}
    document["metadata"] = copy.deepcopy(template["metadata"])
    run = document["metadata"]["run"]
    run.update(anchor=None, started_at=f"2026-12-06T{hour:02d}:00:00Z", scenario=scenario,
               weights={"by-id": 60, "page": 40} if scenario == "mix" else None,
               pooler={"tool": "pgbouncer", "version": "1.18.0", "pool_mode": "transaction",
                       "server_pool_per_role": 8} if pooler else None,
               preset={"name": "stacks", "summary": "s", "prices": [PSYCOPG_PRICE]})
    for name, share, rss in (("fastapi/raw", 1.0, 60.0), ("fastapi/raw-psycopg", ratio, 65.0)):
        cell = copy.deepcopy(base)
        cell.update(name=name, variant=name.split("/")[1], slices=[], reference=False, point=None, workers=1,
                    scenario=scenario, status="ok")
        cell["share"], cell["rss"] = share, rss
        document["cells"].append(cell)
    for round_no in range(1, 11):
        order = document["cells"][:]
        rng.shuffle(order)
        for position, cell in enumerate(order, start=1):
            speed = (1 - 0.033 * round_no) * math.exp(rng.gauss(0, 0.03))
            piece = copy.deepcopy(base["slices"][0])
            piece.update(group=1, round=round_no, position=position, repeat=False, disturbed=False,
                         rps=2000 * cell["share"] * speed, server_rss_mib=cell["rss"])
            cell["slices"].append(piece)
    for cell in document["cells"]:
        del cell["share"], cell["rss"]
    return results.finalize(document)


PSYCOPG_PRICE = {"choice": "driver", "question": "psycopg 3 in place of asyncpg, raw SQL",
                 "a": "fastapi/raw-psycopg", "b": "fastapi/raw"}


def test_prices_across_scenarios_recover_each_runs_ratio_and_say_it_in_words(tmp_path):
    rng = random.Random(3)
    runs = [synthetic_preset_run("mix", 0.60, rng, 3, pooler=True), synthetic_preset_run("by-id", 0.80, rng, 1),
            synthetic_preset_run("mix", 1.0, rng, 2)]
    for number, document in enumerate(runs):
        results.write(document, tmp_path / f"run{number}" / "results.json")
    loaded = prices.runs_under([str(tmp_path)])
    assert [prices.column_of(document) for document in loaded] == ["by-id", "mix", "mix behind PgBouncer"]
    (row,) = prices.price_rows(loaded)
    by_id, mix, pooled = row["runs"]
    assert by_id["ci95"][0] < 0.80 < by_id["ci95"][1] and not by_id["tie"]
    assert mix["tie"], "a price of 1 is a tie, not a cost"
    assert pooled["ci95"][0] < 0.60 < pooled["ci95"][1]
    text = prices.render(loaded)
    assert "| driver | psycopg 3 in place of asyncpg, raw SQL |" in text and "+5 MiB per worker" in text
    sentence = prices.decision(row, ["by-id", "mix", "mix behind PgBouncer"])
    assert "less throughput on by-id" in sentence and "a tie on mix;" in sentence
    assert "less throughput on mix behind PgBouncer" in sentence and sentence.endswith("+5 MiB per worker.")
    assert "by-id 60%, page 40%" in text, "the mix's weights are stated"
    assert "every cell at" in text, "each run's pool policy is stated"
    assert prices.PSYCOPG_UNDER_SQLALCHEMY in text and prices.PREPARED_GONE_BEHIND_POOLER in text


def test_prices_refuse_runs_of_no_preset_or_of_two(tmp_path):
    rng = random.Random(4)
    document = synthetic_preset_run("by-id", 0.9, rng, 1)
    document["metadata"]["run"]["preset"] = None
    results.write(document, tmp_path / "a" / "results.json")
    with pytest.raises(DbbenchError, match="runs of one preset"):
        prices.runs_under([str(tmp_path)])
    document["metadata"]["run"]["preset"] = {"name": "stacks", "summary": "s", "prices": [PSYCOPG_PRICE]}
    results.write(document, tmp_path / "a" / "results.json")
    other = synthetic_preset_run("mix", 0.9, rng, 2)
    other["metadata"]["run"]["preset"] = {"name": "another", "summary": "s", "prices": [PSYCOPG_PRICE]}
    results.write(other, tmp_path / "b" / "results.json")
    with pytest.raises(DbbenchError, match="these are of another, stacks"):
        prices.runs_under([str(tmp_path)])
    result = dbbench("prices", str(tmp_path / "nothing-here"))
    assert result.returncode == 2 and "Traceback" not in result.stderr and len(result.stderr.splitlines()) == 1
