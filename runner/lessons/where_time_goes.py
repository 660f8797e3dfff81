"""The lesson "where a request's time goes": the CPU of server, PostgreSQL and wrk per request, and
what asyncpg's pool reset costs."""

from __future__ import annotations

from matplotlib.figure import Figure

from runner.base.errors import DbbenchError
from runner.lessons.claims import Claim, Shown
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


def cell_named(document: dict, name: str) -> dict:
    found = next((cell for cell in document["cells"] if cell["name"] == name and cell.get("clean")), None)
    if found is None:
        raise DbbenchError(f"{name} was not measured cleanly")
    return found


def apart_above(document: dict, party: str, higher: str, lower: str) -> tuple[bool, str]:
    """Whether higher's CPU µs per request for the party lies above lower's, intervals apart."""
    high, low = (per_slice(cell_named(document, name), party) for name in (higher, lower))
    apart = high.ci95 is not None and low.ci95 is not None and high.ci95[0] > low.ci95[1]
    return apart, f"{higher} {high.median:,.0f} against {lower} {low.median:,.0f} µs"


def the_reset_costs_postgres(document: dict, numbers: dict) -> Shown:
    said, shown = [], True
    for framework in ("fastapi", "sanic"):
        apart, text = apart_above(document, "postgres", f"{framework}/raw", f"{framework}/raw-noreset")
        said.append(text)
        shown = shown and apart
    return Shown(shown, "; ".join(said) + ("" if shown else " (not all apart)"))


def an_orm_costs_server_cpu(document: dict, numbers: dict) -> Shown:
    said, shown = [], True
    for variant in ("gino-orm", "sa-core"):
        apart, text = apart_above(document, "server", f"fastapi/{variant}", "fastapi/raw")
        said.append(text)
        shown = shown and apart
    return Shown(shown, "; ".join(said) + ("" if shown else " (not all apart)"))


LESSON = Lesson(
    "where-time-goes", "Where does a request's time go, and what does asyncpg's pool reset cost?",
    run_experiment(RunOptions(frameworks=["fastapi", "sanic", "gin"], connections=32, budget_s=300,
                              variants=["raw", "raw-noreset", "gino-orm", "gino-baked", "sa-core"])),
    time_goes_numbers, time_goes_figure,
    claims=(
        Claim("orm_cpu", "that a layer over raw SQL (GINO's ORM, SQLAlchemy Core) costs CPU in the server",
              "A layer over raw SQL costs CPU in the server, intervals apart: $why.", an_orm_costs_server_cpu),
        Claim("reset_cost", "that asyncpg's pool reset costs PostgreSQL CPU per request",
              "The reset costs PostgreSQL CPU, intervals apart: $why.", the_reset_costs_postgres),
    ),
    answer="orm_cpu", read_first=("event-loop",))
