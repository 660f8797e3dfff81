"""The lesson "where a request's time goes": the CPU of server, PostgreSQL and wrk per request, and
what asyncpg's pool reset costs."""

from __future__ import annotations

from matplotlib.figure import Figure

from runner.lessons.engine import Lesson, run_experiment
from runner.lessons.toolkit import fmt_estimate, per_slice, placeholder_of
from runner.measure.options import RunOptions
from runner.report import figures, formatting


def time_goes_numbers(document: dict) -> dict[str, str]:
    """Per cell and party, CPU µs per request with its interval; per framework, what turning the
    pool reset off changed: PostgreSQL's µs and the blocked throughput ratio."""
    numbers: dict[str, str] = {}
    rows = []
    for cell in figures.ordered_cells(document["cells"]):
        if cell["status"] != "ok" or not cell.get("slices_used"):
            continue
        key = placeholder_of(cell["name"])
        for party in ("server", "postgres", "wrk"):
            numbers[f"{key}_{party}_us"] = fmt_estimate(per_slice(cell, party))
        numbers[f"{key}_statements"] = formatting.spr_text(cell)
        rows.append([cell["name"], numbers[f"{key}_statements"], *[numbers[f"{key}_{party}_us"]
                                                                   for party in ("server", "postgres", "wrk")]])
    numbers["table"] = formatting.md_table(["cell", "statements per request", "server µs [95%]", "PostgreSQL µs [95%]",
                                        "wrk µs [95%]"], rows)
    for found in formatting.comparisons_of(document, "orm-tax").values():
        numbers[f"{placeholder_of(found['a'])}_over_raw"] = formatting.fmt_ratio(found)
    return numbers


def time_goes_figure(document: dict) -> Figure:
    return figures.cpu(document)


LESSON = Lesson(
    "where-time-goes", "Where does a request's time go, and what does asyncpg's pool reset cost?",
    run_experiment(RunOptions(frameworks=["fastapi", "sanic", "gin"], connections=32, budget_s=300,
                              variants=["raw", "raw-noreset", "gino-orm", "gino-baked", "sa-core"])),
    time_goes_numbers, time_goes_figure)
