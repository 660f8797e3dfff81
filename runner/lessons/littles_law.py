"""The lesson "concurrency and Little's law": what more connections buy a closed-loop benchmark,
and what they cost."""

from __future__ import annotations

from matplotlib.figure import Figure

from runner.experiments import sweep
from runner.lessons.engine import Lesson, sweep_experiment
from runner.lessons.toolkit import (
    below_best,
    best_point,
    fmt_estimate,
    level_with_best,
    paired_ratios,
    placeholder_of,
    ratio_panel,
    share_text,
    verdict,
    widest,
)
from runner.measure.options import RunOptions
from runner.report import figures, formatting, results

LITTLE_CONNECTIONS = [1, 4, 16, 64, 256]
LITTLE_POOL = 32  # one pool for every point, so that all ten instances fit under max_connections in one group


def littles_law_numbers(document: dict) -> dict[str, str]:
    """Per cell and concurrency N: RPS, its paired ratio to the cell's best N, wrk's mean latency,
    and Little's N / RPS beside it; per cell, the knee: the smallest N whose throughput cannot
    be told from the best."""
    numbers: dict[str, str] = {}
    rows = []
    ratios = paired_ratios(document, "littles-law")
    numbers["widest"] = widest(ratios)
    for cell_name, points in sweep.series(document).items():
        key = placeholder_of(cell_name)
        best_n, best = best_point(cell_name, points)
        numbers[f"{key}_top"] = f"{best['rps_median']:,.0f}"
        numbers[f"{key}_best_n"] = str(best_n)
        numbers[f"{key}_knee"] = str(min(n for n, cell in points if level_with_best(cell, ratios)))
        for connections, cell in points:
            measured = results.estimate_of(cell)
            mean_ms = cell["latency_ms"]["mean"]
            predicted_ms = connections / cell["rps_median"] * 1000
            numbers.update({f"{key}_{connections}_rps": fmt_estimate(measured),
                            f"{key}_{connections}_share": share_text(cell, ratios),
                            f"{key}_{connections}_verdict": verdict(cell, ratios),
                            f"{key}_{connections}_mean_ms": f"{mean_ms:.2f}",
                            f"{key}_{connections}_little_ms": f"{predicted_ms:.2f}"})
            rows.append([cell_name, str(connections), numbers[f"{key}_{connections}_rps"],
                         numbers[f"{key}_{connections}_share"], f"{mean_ms:.2f}", f"{predicted_ms:.2f}",
                         f"{mean_ms / predicted_ms:.2f}"])
        numbers[f"{key}_below_past"] = ", ".join(
            str(n) for n, cell in points if n > best_n and below_best(cell, ratios)) or "none"
    numbers["table"] = formatting.md_table(["cell", "connections N", "RPS [95%]",
                                            "over the cell's best N, paired [95%]", "wrk's mean latency, ms",
                                            "N / RPS, ms", "measured / Little"], rows)
    return numbers


def littles_law_figure(document: dict) -> Figure:
    figure = Figure(figsize=(figures.WIDTH_IN, 3.8), layout="constrained")
    left, right = figure.subplots(1, 2)
    for cell_name, points in sweep.series(document).items():
        colour = figures.colour_of(points[0][1])
        marker = "s" if points[0][1].get("reference") else "o"
        ns = [n for n, _ in points]
        ratio_panel(left, points, sweep.point_ratios(document), colour, marker, cell_name)
        right.plot(ns, [cell["latency_ms"]["mean"] for _, cell in points], marker=marker, color=colour,
                   label=f"{cell_name}: wrk's mean")
        right.plot(ns, [n / cell["rps_median"] * 1000 for n, cell in points], linestyle="--", color=colour,
                   label=f"{cell_name}: N / RPS")
    for axes in (left, right):
        sweep.parameter_axis(axes, document["values"], "connections (closed-loop concurrency)")
    left.set_title("Throughput over the cell's best N (paired)", loc="left")
    left.set_ylabel("ratio to the best N [95%]")
    right.set_yscale("log")
    right.set_title("Latency, measured and by Little's law", loc="left")
    right.set_ylabel("ms (log scale)")
    figures.legend_below(figure, right.get_legend_handles_labels()[0])
    return figure


LESSON = Lesson(
    "littles-law", "What does more concurrency buy a closed-loop benchmark, and what does it cost?",
    sweep_experiment(RunOptions(frameworks=["fastapi", "gin"], variants=["raw"], budget_s=330,
                                pool_size=LITTLE_POOL, short_warmup=True), "connections", LITTLE_CONNECTIONS),
    littles_law_numbers, littles_law_figure)
