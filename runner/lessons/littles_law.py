"""The lesson "concurrency and Little's law": what more connections buy a closed-loop benchmark,
and what they cost."""

from __future__ import annotations

from matplotlib.figure import Figure

from runner.experiments import sweep
from runner.lessons.claims import Claim, Shown, unreadable
from runner.lessons.engine import Lesson, sweep_experiment
from runner.lessons.toolkit import (
    below_best,
    best_point,
    blocked,
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

# From one connection up, with 2 beside it: the regime with spare capacity comes before the knee.
LITTLE_CONNECTIONS = [1, 2, 4, 16, 64, 256]
LITTLE_POOL = 32  # one pool for every point: twelve instances hold 384 connections, under max_connections (600)
# What the claims allow: Little's bookkeeping within these factors, and what "W stays" and
# "λ grows" mean from one connection to two.
LITTLE_LOW, LITTLE_HIGH = 0.8, 1.25
W_STAYS, LAMBDA_GROWS = 1.25, 1.5
BUSY = 0.85  # an event loop this busy has run out of CPU: what is left is waiting it cannot fill
PROPORTIONAL_LOW, PROPORTIONAL_HIGH = 0.7, 1.3


def littles_law_numbers(document: dict) -> dict[str, str]:
    """Per cell and concurrency N: RPS, its paired ratio to the cell's best N, wrk's mean latency,
    and Little's N / RPS beside it; per cell, the knee: the smallest N whose throughput cannot
    be told from the best."""
    numbers: dict[str, str] = {}
    rows = []
    ratios = paired_ratios(document, "littles-law")
    numbers["widest"] = widest(ratios)
    numbers["values"] = formatting.listed([str(value) for value in document["values"]])
    numbers["instances"] = str(sum(len(points) for points in sweep.series(document).values()))
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


def spare_capacity(document: dict, numbers: dict) -> Shown:
    """From one connection to two, λ grows and W stays, for at least one cell; every cell is
    named with what it did, so that one without spare capacity at one connection says so."""
    said, spare = [], []
    for cell_name, points in sweep.series(document).items():
        by_n = dict(points)
        one, two = by_n.get(1), by_n.get(2)
        if one is None or two is None:
            return Shown(False, f"{cell_name} has no point at 1 or 2 connections")
        if reason := unreadable(one, two):
            return Shown(False, reason)
        grew = blocked(document["results"]).ratio(two["name"], one["name"])
        if grew is None or grew.ci95 is None:
            return Shown(False, f"{cell_name}'s two points share no rounds for an interval")
        stayed = two["latency_ms"]["mean"] / one["latency_ms"]["mean"]
        had_spare = grew.ci95[0] >= LAMBDA_GROWS and stayed <= W_STAYS
        spare += [cell_name] if had_spare else []
        reading = "spare capacity" if had_spare else "not spare: its server near its bound from one connection"
        said.append(f"{cell_name}'s λ × {grew.value:.2f} with W × {stayed:.2f} ({reading})")
    return Shown(bool(spare), "; ".join(said) + f" (spare: λ at least {LAMBDA_GROWS}×, paired, W at most "
                                                f"{W_STAYS}×)")


def waiting_grows_with_n(document: dict, numbers: dict) -> Shown:
    """Between the two largest N, past every cell's best, W grows in proportion to N."""
    said = []
    for cell_name, points in sweep.series(document).items():
        best_n, _ = best_point(cell_name, points)
        (low_n, low), (high_n, high) = points[-2], points[-1]
        if low_n < best_n:
            return Shown(False, f"{cell_name}'s best N was {best_n}: its two largest are not both past it")
        if reason := unreadable(low, high):
            return Shown(False, reason)
        share = (high["latency_ms"]["mean"] / low["latency_ms"]["mean"]) / (high_n / low_n)
        said.append(f"{cell_name}: W × {high['latency_ms']['mean'] / low['latency_ms']['mean']:.2f} for N × "
                    f"{high_n / low_n:g}, from N = {low_n} to {high_n}")
        if not PROPORTIONAL_LOW <= share <= PROPORTIONAL_HIGH:
            return Shown(False, "; ".join(said))
    return Shown(True, "; ".join(said))


def bookkeeping_holds(document: dict, numbers: dict) -> Shown:
    found = [(cell["name"], cell["latency_ms"]["mean"] / (n / cell["rps_median"] * 1000))
             for _, points in sweep.series(document).items() for n, cell in points]
    outside = [f"{name} {ratio:.2f}" for name, ratio in found if not LITTLE_LOW <= ratio <= LITTLE_HIGH]
    ratios = [ratio for _, ratio in found]
    return Shown(not outside and bool(found), f"outside {LITTLE_LOW}–{LITTLE_HIGH}: {', '.join(outside)}"
                 if outside else f"measured / Little from {min(ratios):.2f} to {max(ratios):.2f}")


def knee_is_the_cpu(document: dict, numbers: dict) -> Shown:
    """At its knee (the smallest N as good as the best, paired), the Python server's one core was busy."""
    points = sweep.series(document)["fastapi/raw"]
    ratios = sweep.point_ratios(document)
    knee_n, knee = next((n, cell) for n, cell in points if level_with_best(cell, ratios))
    if reason := unreadable(knee):
        return Shown(False, reason)
    cores = knee["cpu_cores"]["server"]
    return Shown(cores >= BUSY, f"fastapi/raw's server used {cores:.2f} cores at its knee, N = {knee_n}")


LESSON = Lesson(
    "littles-law", "What does more concurrency buy a closed-loop benchmark, and what does it cost?",
    sweep_experiment(RunOptions(frameworks=["fastapi", "gin"], variants=["raw"], budget_s=330,
                                pool_size=LITTLE_POOL, short_warmup=True), "connections", LITTLE_CONNECTIONS),
    littles_law_numbers, littles_law_figure,
    claims=(
        Claim("spare", "that a cell with spare capacity grows λ with N while W stays",
              "From one connection to two: $why.", spare_capacity),
        Claim("saturated", "that past the best N, W grows in proportion to N",
              "Past the best N, W grows in proportion to N: $why.", waiting_grows_with_n),
        Claim("bookkeeping", f"that wrk's mean latency is N / RPS within {LITTLE_LOW}–{LITTLE_HIGH} at every point",
              "The bookkeeping holds at every point: $why.",
              bookkeeping_holds),
        Claim("knee_cpu", "that fastapi/raw's knee is where its one core is busy",
              "fastapi/raw's knee is where its event loop runs out of CPU: $why.", knee_is_the_cpu),
    ),
    answer="saturated", read_first=("event-loop",))
