"""The lesson "N+1 across a network": a feed page with its authors, loaded five ways, as the
database moves away.

Each added round trip is paid once per statement a request sends in sequence, so a lazy
loader's waiting is its round trips times the latency. With one connection nothing hides it:
a request's p50 grows by its round trips x the added ms. With N connections, two bounds hold
a closed loop on one event loop: the waiting bound N / (a request's time alone), by Little's
law, and the CPU bound 10^6 / (server µs per request); the lower one sets the throughput. The
statement counts the verifier measured say how many round trips each strategy makes.
"""

from __future__ import annotations

from matplotlib.figure import Figure

from runner.experiments import sweep
from runner.lessons.claims import Claim, Shown, unreadable
from runner.lessons.engine import Lesson, LessonSweep, several_sweeps
from runner.lessons.toolkit import (
    fmt_estimate,
    in_flight,
    part_of,
    per_slice,
    placeholder_of,
    round_trips,
)
from runner.measure.options import RunOptions
from runner.report import figures, formatting, results, stats

VARIANTS = ["raw", "sa-orm-joined", "sa-orm-selectin", "sa-orm-lazy", "tortoise"]
LATENCIES = [0, 1, 5]
FEW = 1
# The second half at the largest added ms: wrk's connections from a few to this project's 64, for
# the pair the lesson is about. The waiting bound N / (round trips x ms) rises with N until it
# meets the CPU bound: below that N the waiting sets the throughput, above it the CPU hides it.
# Eight instances at the rule's pools hold under 200 connections, one group under max_connections.
CONNECTIONS = [1, 4, 16, 64]
N_PLUS_ONE_SWEEPS = [
    LessonSweep("one connection", "db-latency", LATENCIES, proxy=True, connections=FEW, slice_s=2, budget_s=300),
    LessonSweep("connections", "connections", CONNECTIONS, proxy=True, db_latency_ms=LATENCIES[-1],
                variants=("sa-orm-joined", "sa-orm-lazy"), slice_s=2, budget_s=240),
]
# How far the round-trip model may miss and still be said to explain a latency: the bar of issue 43.
MODEL_LOW, MODEL_HIGH = 0.7, 2.0
# A throughput "is set by" a bound when it lies within these factors of it.
SET_LOW, SET_HIGH = 0.7, 1.15


def points_of(document: dict, label: str) -> dict[str, dict[int, dict]]:
    """{cell: {added ms: its instance}} of one of the two sweeps."""
    return {name: dict(points) for name, points in sweep.series(part_of(document, label)["sweep"]).items()}


def p50(cell: dict) -> float:
    return cell["latency_ms"]["p50"]


def p50_estimate(cell: dict) -> str:
    """The p50 with its interval over the slices the estimates use."""
    return fmt_estimate(stats.estimate([piece["latency_ms"]["p50"] for piece in results.used_slices(cell)
                                        if piece.get("latency_ms", {}).get("p50") is not None]), digits=1)


def n_plus_one_numbers(document: dict) -> dict[str, str]:
    """With one connection: per cell and added ms, p50, the round trips, and what the model
    (its own 0 ms p50 + round trips x ms) gives. At the largest added ms, per connections N: RPS,
    both bounds, which one is lower and the throughput's share of it."""
    numbers: dict[str, str] = {}
    few_rows, many_rows = [], []
    for cell_name, points in points_of(document, "one connection").items():
        key = placeholder_of(cell_name)
        start = points[0]
        for added, cell in points.items():
            trips = round_trips(cell["statements_per_request"])
            model = p50(start) + trips * added
            numbers.update({
                f"{key}_few_{added}_p50": p50_estimate(cell), f"{key}_few_{added}_trips": f"{trips:.1f}",
                f"{key}_few_{added}_model": f"{model:,.1f}",
                f"{key}_lookups": f"{cell['statements_per_request'].get('lookup', 0):.1f}",
            })
            few_rows.append([cell_name, str(added), numbers[f"{key}_few_{added}_p50"],
                             ", ".join(f"{kind} {value:g}" for kind, value in cell["statements_per_request"].items()),
                             numbers[f"{key}_few_{added}_trips"], numbers[f"{key}_few_{added}_model"],
                             f"{(p50(cell) - p50(start)) / (trips * added):.2f}" if added else "—"])
    added = LATENCIES[-1]
    for cell_name, points in points_of(document, "connections").items():
        key = placeholder_of(cell_name)
        for connections, cell in points.items():
            waiting, cpu = bounds(document, cell_name, cell, added)
            numbers.update({
                f"{key}_n{connections}_rps": fmt_estimate(results.estimate_of(cell)),
                f"{key}_n{connections}_waiting_bound": f"{waiting:,.0f}",
                f"{key}_n{connections}_cpu_bound": f"{cpu:,.0f}",
                f"{key}_n{connections}_lower": "waiting" if waiting < cpu else "CPU",
                f"{key}_n{connections}_of_lower": f"{cell['rps_median'] / min(waiting, cpu):.2f}",
            })
            many_rows.append([cell_name, str(connections), numbers[f"{key}_n{connections}_rps"],
                              numbers[f"{key}_n{connections}_waiting_bound"],
                              numbers[f"{key}_n{connections}_cpu_bound"], numbers[f"{key}_n{connections}_lower"],
                              numbers[f"{key}_n{connections}_of_lower"]])
    numbers["few_table"] = formatting.md_table(
        ["cell", "ms added per round trip", "p50 ms [95%]", "statements per request (verified)",
         "round trips per request", "model: own 0 ms p50 + round trips × ms", "p50 added / (round trips × ms)"],
        few_rows)
    numbers["many_table"] = formatting.md_table(
        ["cell", "connections N", "RPS [95%]", "waiting bound N / (mean ms alone)", "CPU bound 10⁶ / server µs",
         "lower bound", "RPS / lower bound"], many_rows)
    numbers["largest"] = str(added)
    numbers["connections_values"] = formatting.listed([str(n) for n in part_of(document, "connections")["values"]])
    numbers.update(lazy_over_joined(document))
    return numbers


def network_extra(document: dict) -> tuple[float, float, float]:
    """At the largest added ms with one connection: what the network added to lazy's p50 beyond
    what it added to joined's (each against its own 0 ms point, so that lazy's own CPU at 0 ms
    is not counted), lazy's extra p50 over joined as measured, and lazy's extra round trips."""
    points, added = points_of(document, "one connection"), LATENCIES[-1]
    lazy, joined = points["fastapi/sa-orm-lazy"], points["fastapi/sa-orm-joined"]
    extra_trips = (round_trips(lazy[added]["statements_per_request"])
                   - round_trips(joined[added]["statements_per_request"]))
    by_network = (p50(lazy[added]) - p50(lazy[0])) - (p50(joined[added]) - p50(joined[0]))
    return by_network, p50(lazy[added]) - p50(joined[added]), extra_trips


def lazy_over_joined(document: dict) -> dict[str, str]:
    """The numbers of network_extra, and what the extra round trips times the added ms predict."""
    added = LATENCIES[-1]
    by_network, extra, extra_trips = network_extra(document)
    return {"lazy_network_extra": f"{by_network:,.1f}", "lazy_extra_p50": f"{extra:,.1f}",
            "lazy_extra_trips": f"{extra_trips:.1f}", "lazy_extra_predicted": f"{extra_trips * added:,.1f}",
            "lazy_extra_ratio": f"{by_network / (extra_trips * added):.2f}" if extra_trips else "—",
            "largest": str(added)}


def lazy_waits_its_round_trips(document: dict, numbers: dict) -> Shown:
    points, added = points_of(document, "one connection"), LATENCIES[-1]
    lazy, joined = points["fastapi/sa-orm-lazy"][added], points["fastapi/sa-orm-joined"][added]
    if reason := unreadable(lazy, joined):
        return Shown(False, reason)
    if reason := unreadable(points["fastapi/sa-orm-lazy"][0], points["fastapi/sa-orm-joined"][0]):
        return Shown(False, reason)
    by_network, extra, extra_trips = network_extra(document)
    if extra_trips <= 1:
        return Shown(False, f"lazy made {extra_trips:.1f} round trips more than joined: no N+1 to measure")
    ratio = by_network / (extra_trips * added)
    return Shown(MODEL_LOW <= ratio <= MODEL_HIGH,
                 f"the network added {by_network:,.1f} ms more to lazy's p50 than to joined's, for {extra_trips:.1f} "
                 f"extra round trips × {added} ms = {extra_trips * added:,.1f} ms: {ratio:.2f} times, against "
                 f"{MODEL_LOW}–{MODEL_HIGH} (the whole difference, {extra:,.1f} ms, also holds lazy's own CPU at 0 ms)")


def every_cell_waits_its_round_trips(document: dict, numbers: dict) -> Shown:
    added = LATENCIES[-1]
    found = {}
    for cell_name, points in points_of(document, "one connection").items():
        if reason := unreadable(points[0], points[added]):
            return Shown(False, reason)
        trips = round_trips(points[added]["statements_per_request"])
        found[cell_name] = (p50(points[added]) - p50(points[0])) / (trips * added)
    misses = [f"{name} {ratio:.2f}" for name, ratio in found.items() if not MODEL_LOW <= ratio <= MODEL_HIGH]
    return Shown(bool(found) and not misses, f"outside {MODEL_LOW}–{MODEL_HIGH}: {', '.join(misses)}" if misses else
                 f"what +{added} ms added to each cell's p50, over its round trips × {added} ms, ran from "
                 f"{min(found.values()):.2f} to {max(found.values()):.2f}")


def alone_ms(document: dict, cell_name: str, added: int) -> float:
    """A request's mean time with nothing else in flight: the cell's one-connection point at the
    same added ms (its CPU, PostgreSQL's, the proxy's and its round trips)."""
    return points_of(document, "one connection")[cell_name][added]["latency_ms"]["mean"]


def bounds(document: dict, cell_name: str, cell: dict, added: int) -> tuple[float, float]:
    """The waiting bound N / (a request's time alone), by Little's law (queueing only adds to a
    request's time), and the CPU bound 10^6 / server µs, of one point of the connections sweep."""
    return (in_flight(cell) / (alone_ms(document, cell_name, added) / 1000),
            1e6 / per_slice(cell, "server").median)


def the_cpu_hides_the_waiting(document: dict, numbers: dict) -> Shown:
    """At the most connections, lazy's CPU bound is the lower one and sets its throughput."""
    return set_by(document, max(CONNECTIONS), "CPU")


def the_waiting_shows(document: dict, numbers: dict) -> Shown:
    """At a few connections, lazy's waiting bound is the lower one and sets its throughput."""
    return set_by(document, CONNECTIONS[1], "waiting")


def set_by(document: dict, connections: int, expected: str) -> Shown:
    cell = points_of(document, "connections")["fastapi/sa-orm-lazy"][connections]
    if reason := unreadable(cell):
        return Shown(False, reason)
    waiting, cpu = bounds(document, "fastapi/sa-orm-lazy", cell, LATENCIES[-1])
    lower = "waiting" if waiting < cpu else "CPU"
    share = cell["rps_median"] / min(waiting, cpu)
    said = (f"at {connections} connections: waiting bound {waiting:,.0f}, CPU bound {cpu:,.0f}, measured "
            f"{cell['rps_median']:,.0f} ({share:.2f} of the lower)")
    return Shown(lower == expected and SET_LOW <= share <= SET_HIGH, said)


def n_plus_one_figure(document: dict) -> Figure:
    figure = Figure(figsize=(figures.WIDTH_IN, 3.8), layout="constrained")
    left, right = figure.subplots(1, 2)
    for index, (cell_name, points) in enumerate(points_of(document, "one connection").items()):
        colour = figures.CELL_COLOURS[index % len(figures.CELL_COLOURS)]
        marker = sweep.MARKERS[index % len(sweep.MARKERS)]
        left.plot(list(points), [p50(cell) for cell in points.values()], marker=marker, color=colour, label=cell_name)
        left.plot(list(points), [p50(points[0]) + round_trips(cell["statements_per_request"]) * added
                                 for added, cell in points.items()], linestyle=":", color=colour)
    for index, (cell_name, points) in enumerate(points_of(document, "connections").items()):
        colour = figures.CELL_COLOURS[index % len(figures.CELL_COLOURS)]
        right.plot(list(points), [cell["rps_median"] for cell in points.values()],
                   marker=sweep.MARKERS[index % len(sweep.MARKERS)], color=colour, label=cell_name)
        right.plot(list(points), [min(bounds(document, cell_name, cell, LATENCIES[-1])) for cell in points.values()],
                   linestyle=":", color=colour)
        for connections, cell in points.items():
            if cell.get("rps_ci95"):
                figures.whisker_vertical(right, connections, cell["rps_median"], cell["rps_ci95"], colour)
    sweep.parameter_axis(left, LATENCIES, "ms added per round trip to PostgreSQL (toxiproxy)")
    sweep.parameter_axis(right, CONNECTIONS, f"connections N, at +{LATENCIES[-1]} ms")
    for axes in (left, right):
        axes.set_ylim(bottom=0)
    left.set_title(f"p50 with {FEW} connection (dotted: the round-trip model)", loc="left")
    left.set_ylabel("milliseconds")
    right.set_title("Throughput (dotted: the lower bound)", loc="left")
    right.set_ylabel("requests per second")
    figures.legend_below(figure, left.get_legend_handles_labels()[0])
    return figure


LESSON = Lesson(
    "n-plus-one", "What does lazy loading cost when the database is across a network?",
    several_sweeps(RunOptions(scenario="feed", frameworks=["fastapi"], variants=VARIANTS), N_PLUS_ONE_SWEEPS),
    n_plus_one_numbers, n_plus_one_figure,
    claims=(
        Claim("lazy_waits", "that at one connection lazy loading's extra latency is its extra round trips times "
                            "the added ms",
              "At +$largest ms and one connection, the network added $lazy_network_extra ms more to sa-orm-lazy's "
              "p50 than to sa-orm-joined's (each against its own 0 ms point): its $lazy_extra_trips extra round "
              "trips × $largest ms predict $lazy_extra_predicted ms ($lazy_extra_ratio times the prediction; at "
              "+$largest ms lazy's whole p50 was $lazy_extra_p50 ms above joined's, its own CPU included).",
              lazy_waits_its_round_trips),
        Claim("every_cell_waits", "that at one connection every loader's p50 grows by its round trips times the "
                                  "added ms", "Every loader's p50 grew by its own round trips times the added "
                                              "milliseconds: $why.", every_cell_waits_its_round_trips),
        Claim("hidden", f"that at {max(CONNECTIONS)} connections the CPU, not the waiting, sets lazy loading's "
                        "throughput", f"At {max(CONNECTIONS)} connections the CPU bound was the lower one for "
                                      "sa-orm-lazy and set its throughput ($why): the requests in flight hide the "
                                      "waiting.", the_cpu_hides_the_waiting),
        Claim("exposed", f"that at {CONNECTIONS[1]} connections the waiting sets lazy loading's throughput",
              f"At {CONNECTIONS[1]} connections the waiting bound was the lower one and set sa-orm-lazy's "
              "throughput ($why): there the round trips are not hidden.", the_waiting_shows),
    ),
    answer="lazy_waits", read_first=("what-asyncio-buys", "orm-tax"))
