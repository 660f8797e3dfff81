"""The lesson "N+1 across a network": a feed page with its authors, loaded four ways, as the
database moves away.

Each added round trip is paid once per statement a request sends in sequence, so a lazy
loader's waiting is its round trips times the latency. Two bounds hold a closed loop of N
connections on one event loop: the waiting bound N / (round trips x added ms), by Little's
law, and the CPU bound 10^6 / (server µs per request). The lower one sets the throughput; the
statement counts the verifier measured say how many round trips each strategy makes.
"""

from __future__ import annotations

from matplotlib.figure import Figure

from runner.experiments import sweep
from runner.lessons.engine import Lesson, sweep_experiment
from runner.lessons.toolkit import blocked, fmt_estimate, fmt_ratio_of, per_slice, placeholder_of
from runner.measure.options import RunOptions
from runner.report import figures, formatting, results

VARIANTS = ["raw", "sa-orm-joined", "sa-orm-selectin", "sa-orm-lazy"]
LATENCIES = [0, 1, 2]
POOL_RESET_STATEMENTS = 4  # asyncpg's reset: four statements in one string, one round trip


def round_trips(statements: dict[str, float]) -> float:
    """Statements a request waits for one after the other: each lookup, update and transaction
    statement is one round trip; asyncpg's four-statement reset is one more per checkout."""
    sequential = sum(statements.get(kind, 0.0) for kind in ("lookup", "update", "transaction", "session setup"))
    return sequential + statements.get("pool reset", 0.0) / POOL_RESET_STATEMENTS


def n_plus_one_numbers(document: dict) -> dict[str, str]:
    """Per cell and added round trip: RPS, the share of its own at 0 ms kept, the statements and
    round trips per request, both bounds and which one binds; per latency, lazy over joined."""
    numbers: dict[str, str] = {}
    rows = []
    for cell_name, points in sweep.series(document).items():
        key = placeholder_of(cell_name)
        first = points[0][1]["rps_median"]
        for latency, cell in points:
            trips = round_trips(cell["statements_per_request"])
            waiting = cell["connections"] / (trips * latency / 1000) if latency else None
            cpu = 1e6 / per_slice(cell, "server").median
            measured = results.estimate_of(cell)
            numbers.update({
                f"{key}_{latency}_rps": fmt_estimate(measured),
                f"{key}_{latency}_kept": f"{cell['rps_median'] / first:.0%}",
                f"{key}_{latency}_trips": f"{trips:.1f}",
                f"{key}_{latency}_lookups": f"{cell['statements_per_request'].get('lookup', 0):.1f}",
                f"{key}_{latency}_waiting_bound": f"{waiting:,.0f}" if waiting else "—",
                f"{key}_{latency}_cpu_bound": f"{cpu:,.0f}",
                f"{key}_{latency}_binds": ("the waiting" if waiting and waiting < cpu else "the CPU"),
            })
            rows.append([cell_name, str(latency), numbers[f"{key}_{latency}_rps"], numbers[f"{key}_{latency}_kept"],
                         ", ".join(f"{kind} {value:g}" for kind, value in cell["statements_per_request"].items()),
                         numbers[f"{key}_{latency}_trips"], numbers[f"{key}_{latency}_waiting_bound"],
                         numbers[f"{key}_{latency}_cpu_bound"]])
    for value in document["values"]:
        comparison = blocked(sweep.run_of(document, value))
        for variant in ("sa-orm-lazy", "sa-orm-selectin"):
            found = comparison.ratio(sweep.instance_name(document, f"fastapi/{variant}", value),
                                     sweep.instance_name(document, "fastapi/sa-orm-joined", value))
            numbers[f"{placeholder_of(variant)}_over_joined_{value}"] = fmt_ratio_of(found) if found else "—"
    numbers["table"] = formatting.md_table(
        ["cell", "ms added per round trip", "RPS [95%]", "of its own at 0 ms", "statements per request (verified)",
         "round trips per request", "waiting bound N / (round trips × ms)", "CPU bound 10⁶ / server µs"], rows)
    return numbers


def n_plus_one_figure(document: dict) -> Figure:
    figure = Figure(figsize=(figures.WIDTH_IN, 3.8), layout="constrained")
    left, right = figure.subplots(1, 2)
    for index, (cell_name, points) in enumerate(sweep.series(document).items()):
        colour = figures.CELL_COLOURS[index % len(figures.CELL_COLOURS)]
        marker = sweep.MARKERS[index % len(sweep.MARKERS)]
        xs = [latency for latency, _ in points]
        left.plot(xs, [cell["rps_median"] for _, cell in points], marker=marker, color=colour, label=cell_name)
        for latency, cell in points:
            if cell.get("rps_ci95"):
                figures.whisker_vertical(left, latency, cell["rps_median"], cell["rps_ci95"], colour)
        right.plot(xs, [round_trips(cell["statements_per_request"]) for _, cell in points], marker=marker,
                   color=colour, label=cell_name)
    for axes in (left, right):
        sweep.parameter_axis(axes, document["values"], "ms added per round trip to PostgreSQL (toxiproxy)")
        axes.set_ylim(bottom=0)
    left.set_title("Throughput of a feed page (20 posts with authors)", loc="left")
    left.set_ylabel("requests per second")
    right.set_title("Round trips per request (from the verified statements)", loc="left")
    figures.legend_below(figure, left.get_legend_handles_labels()[0])
    return figure


LESSON = Lesson(
    "n-plus-one", "What does lazy loading cost when the database is across a network?",
    sweep_experiment(RunOptions(scenario="feed", frameworks=["fastapi"], variants=VARIANTS, slice_s=2, budget_s=150,
                                proxy=True),
                     "db-latency", LATENCIES),
    n_plus_one_numbers, n_plus_one_figure)
