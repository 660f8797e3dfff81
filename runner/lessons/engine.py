"""Lessons: teaching pages whose every number is filled in from a committed run.

Each lesson lives in docs/lessons/<name>/: `lesson.md.in` (the text, with $placeholders),
the results file it was rendered from, its figure, and `README.md`, the rendered page.
`dbbench lesson NAME --measure` runs the lesson's experiment (what `make lesson-NAME` does)
and renders; without --measure it renders again from the committed results. A number the
text asks for and the results do not hold is an error, never a blank.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from string import Template

import matplotlib
from matplotlib.figure import Figure

from runner.base import paths
from runner.base.errors import DbbenchError
from runner.experiments import sweep, tune
from runner.measure import backlog
from runner.measure.run import Run, RunOptions
from runner.report import figures, results, stats, tables

LESSONS_DIR = paths.REPO / "docs" / "lessons"


def fmt_interval(found: stats.Estimate | None, scale: float = 1.0, digits: int = 0) -> str:
    """median [low–high], or where too few slices give no 95% interval, the median and their count."""
    if found is None:
        raise DbbenchError("a number the lesson needs has no data")
    shown = f"{found.median * scale:,.{digits}f}"
    if found.ci95 is None:
        return f"{shown} [n = {found.n}: no 95% interval]"
    return f"{shown} [{found.ci95[0] * scale:,.{digits}f}–{found.ci95[1] * scale:,.{digits}f}]"


def per_slice(cell: dict, party: str) -> stats.Estimate | None:
    """A party's CPU µs per request, slice by slice, as an estimate with its interval."""
    values = [piece["cpu_seconds"][party] / piece["requests"] * 1e6 for piece in results.used_slices(cell)
              if piece["requests"] and piece["cpu_seconds"].get(party) is not None]
    return stats.estimate(values)


def key_of(name: str) -> str:
    return name.replace("/", "_").replace("-", "_")


@dataclass(frozen=True)
class Part:
    """One paired sweep of a lesson that measures several: its label in the text, the parameter
    and values, and the run options it sets (the network path: toxiproxy or not, the ms added)."""

    label: str
    param: str
    values: list[int]
    proxy: bool = False
    db_latency_ms: int = 0
    pool_size: int | None = None
    slice_s: int | None = None
    budget_s: float | None = None


# ----------------------------------------------------------------- one event loop is one core


def event_loop_numbers(document: dict) -> dict[str, str]:
    """Per cell: server µs per request, the bound 1e6 / µs it sets, the RPS measured, the
    cores the server used; and the table of all of them."""
    numbers: dict[str, str] = {}
    rows = []
    for cell in document["cells"]:
        if cell["status"] != "ok" or not cell.get("rps_median"):
            continue
        cost = per_slice(cell, "server")
        if cost is None:
            continue
        bound = stats.Estimate(n=cost.n, median=1e6 / cost.median, mean=1e6 / cost.mean,
                                    ci95=(1e6 / cost.ci95[1], 1e6 / cost.ci95[0]) if cost.ci95 else None, cv=None)
        measured = stats.estimate([piece["rps"] for piece in results.used_slices(cell)])
        cores = cell["cpu_cores"]["server"]
        key = key_of(cell["name"])
        numbers.update({f"{key}_us": fmt_interval(cost), f"{key}_bound": fmt_interval(bound),
                        f"{key}_rps": fmt_interval(measured), f"{key}_cores": f"{cores:.2f}",
                        f"{key}_share": f"{measured.median / bound.median:.0%}"})
        rows.append([cell["name"], numbers[f"{key}_us"], numbers[f"{key}_bound"], numbers[f"{key}_rps"],
                     numbers[f"{key}_share"], numbers[f"{key}_cores"]])
    numbers["table"] = tables.md_table(["cell", "server CPU µs per request [95%]", "bound 10⁶ / µs, RPS [95%]",
                                        "measured RPS [95%]", "measured / bound", "server cores used"], rows)
    return numbers


def event_loop_figure(document: dict) -> Figure:
    cells = [c for c in figures.ordered_cells(document["cells"]) if c.get("rps_median") and per_slice(c, "server")]
    figure = Figure(figsize=(figures.WIDTH_IN, 1.4 + 0.45 * len(cells)), layout="constrained")
    axes = figure.add_subplot()
    for y, cell in enumerate(cells):
        bound = 1e6 / per_slice(cell, "server").median
        axes.barh(y, bound, height=0.7, color="#DDDDDD", linewidth=0)
        axes.barh(y, cell["rps_median"], height=0.4, color=figures.colour_of(cell), linewidth=0)
        axes.text(bound, y, f"  {cell['rps_median'] / bound:.0%} of its bound", va="center", fontsize=8)
    axes.set_yticks(range(len(cells)), [figures.label(c) for c in cells])
    axes.invert_yaxis()
    axes.set_xlim(0, max(1e6 / per_slice(c, "server").median for c in cells) * 1.25)
    axes.set_xlabel("requests per second: measured (coloured) within the bound 10⁶ / server µs per request (grey)")
    axes.set_title("One event loop is one core: measured throughput against the CPU bound", loc="left")
    return figure


# ----------------------------------------------------------------- what asyncio buys

# At 64 connections, the round trip toxiproxy adds, with a pool of 64 (flask: a thread per
# connection): the rule's 72 put the nine instances over max_connections, in two groups tied
# through an anchor (ratios to ±26%). Then at +5 ms, wrk's connections up to 1,024 with a pool
# of 48 per cell (flask: 48 threads), which covers Little's law at these rates (about 2,000
# requests/s x 10 ms, two round trips, is 20 in flight) and lets all 12 instances fit in one
# group; a thread per connection at 1,024 would need more connections than PostgreSQL allows here.
ASYNCIO_POOL = 48
ASYNCIO_SWEEPS = [Part("latency", "db-latency", [0, 1, 5], proxy=True, pool_size=64, budget_s=290),
                  Part("connections", "connections", [16, 64, 256, 1024], proxy=True, db_latency_ms=5,
                       pool_size=ASYNCIO_POOL, slice_s=2, budget_s=360)]


def part_of(document: dict, label: str) -> dict:
    """One of a lesson's several sweeps, by its label."""
    for entry in document["sweeps"]:
        if entry.get("label") == label:
            return entry
    raise DbbenchError(f"the lesson's results hold no sweep {label!r}: measure the lesson again")


def ratio_between(comparison: stats.BlockedComparison, a: str, b: str) -> dict | None:
    """a's throughput over b's, paired within rounds, as the report's comparisons hold it."""
    found = comparison.ratio(a, b)
    return None if found is None else {**found.as_dict(), "tie": not found.excludes_one()}


def median_of(cell: dict, field: str) -> float | None:
    return stats.median([piece[field] for piece in results.used_slices(cell) if piece.get(field) is not None])


ASYNC_CELLS = ("fastapi/raw", "sanic/raw")
THREADED_CELL = "flask/raw"


def asyncio_numbers(document: dict) -> dict[str, str]:
    """The latency sweep: per cell and added round trip, RPS, its paired ratio to the cell's best
    point, the server's and the proxy's CPU per request. The connections sweep at +5 ms: per cell
    and N, RPS, its ratio to the best N, p99 and the server's resident memory; per N, each asyncio
    cell over flask/raw, paired."""
    numbers: dict[str, str] = {}
    latency = part_of(document, "latency")
    ratios = paired(latency["sweep"], "what-asyncio-buys")
    rows = []
    below = []
    for cell_name, points in sweep.series(latency["sweep"]).items():
        key = key_of(cell_name)
        for added, cell in points:
            measured = stats.estimate([piece["rps"] for piece in results.used_slices(cell)])
            numbers.update({
                f"{key}_{added}_rps": fmt_interval(measured), f"{key}_{added}_share": share_text(cell, ratios),
                f"{key}_{added}_verdict": verdict(cell, ratios),
                f"{key}_{added}_us": fmt_interval(per_slice(cell, "server")),
                f"{key}_{added}_cores": f"{cell['cpu_cores']['server']:.2f}",
                f"{key}_{added}_proxy_us": fmt_interval(per_slice(cell, "proxy")),
                f"{key}_{added}_little_ms": f"{cell['connections'] / cell['rps_median'] * 1000:.1f}",
            })
            rows.append([cell_name, str(added), numbers[f"{key}_{added}_rps"], numbers[f"{key}_{added}_share"],
                         numbers[f"{key}_{added}_us"], numbers[f"{key}_{added}_cores"],
                         numbers[f"{key}_{added}_proxy_us"], tables.fmt_percentile(cell["latency_ms"], "p50")])
        if below_best(points[-1][1], ratios):
            below.append(cell_name)
    numbers["hidden"] = (f"at +{latency['values'][-1]} ms, {', '.join(below)} fell below its best point, paired"
                         if below else f"at +{latency['values'][-1]} ms no cell fell below its best point, paired: "
                                       "no cost of the waiting can be told")
    numbers["widest_latency"] = widest(ratios)
    numbers["near_pool"] = str(latency["pool_size"])
    numbers["table"] = tables.md_table(["cell", "ms added per round trip", "RPS [95%]",
                                        "over the cell's best point, paired [95%]", "server CPU µs per request [95%]",
                                        "server cores used", "toxiproxy CPU µs per request [95%]", "p50 ms"], rows)
    numbers.update(concurrency_numbers(part_of(document, "connections")))
    return numbers


def concurrency_numbers(entry: dict) -> dict[str, str]:
    """The connections sweep at a fixed added round trip: where threads and the event loop part ways."""
    numbers: dict[str, str] = {"far_ms": str(entry["db_latency_ms"]), "far_pool": str(entry["pool_size"]),
                               # Little's law on the threads: each holds a request for at least the round trip.
                               "far_thread_bound": f"{entry['pool_size'] / entry['db_latency_ms'] * 1000:,.0f}"}
    found_sweep = entry["sweep"]
    ratios = paired(found_sweep, "what-asyncio-buys")
    comparison = blocked(found_sweep["results"])
    lines = sweep.series(found_sweep)
    rows = []
    for cell_name, points in lines.items():
        key = key_of(cell_name)
        for n, cell in points:
            memory = median_of(cell, "server_rss_mib")
            numbers.update({f"{key}_n{n}_share": share_text(cell, ratios),
                            f"{key}_n{n}_verdict": verdict(cell, ratios),
                            f"{key}_n{n}_p99": tables.fmt_percentile(cell["latency_ms"], "p99", digits=0),
                            f"{key}_n{n}_mib": "—" if memory is None else f"{memory:,.0f}",
                            f"{key}_n{n}_rps": f"{cell['rps_median']:,.0f}",
                            # Little's law: how long each request spent in the system, against the slice
                            f"{key}_n{n}_little_s": f"{n / cell['rps_median']:.1f}"})
            rows.append([cell_name, str(n), numbers[f"{key}_n{n}_rps"], numbers[f"{key}_n{n}_share"],
                         numbers[f"{key}_n{n}_p99"], numbers[f"{key}_n{n}_mib"]])
    threaded = dict(lines.get(THREADED_CELL, []))
    parted = []
    for cell_name in ASYNC_CELLS:
        key = key_of(cell_name)
        for n, cell in lines.get(cell_name, []):
            against = ratio_between(comparison, cell["name"], threaded[n]["name"]) if n in threaded else None
            numbers[f"{key}_n{n}_over_flask"] = tables.fmt_ratio(against) if against else "—"
            if against and against.get("ci95") and not against["tie"]:
                parted.append(f"{cell_name} at {n} ({numbers[f'{key}_n{n}_over_flask']})")
    numbers["parted"] = ("the asyncio cells' throughput was told apart from flask/raw's at: " + "; ".join(parted)
                         if parted else "at no N was an asyncio cell's throughput told apart from flask/raw's")
    numbers["widest_connections"] = widest(ratios)
    numbers["far_slice_s"] = str(found_sweep["results"]["metadata"]["run"]["slice_s"])
    numbers["far_backlog"] = backlog_reading(found_sweep, max(entry["values"]))
    numbers["far_table"] = tables.md_table(["cell", "connections N", "median RPS",
                                            "over the cell's best N, paired [95%]", "p99 ms (wrk, closed loop)",
                                            "server resident memory, MiB"], rows)
    numbers["far_table"] += "".join("\n\n" + line for line in tables.left_out_percentiles(
        [(f"{cell_name} at N = {n}", cell) for cell_name, points in lines.items() for n, cell in points], ("p99",)))
    return numbers


def backlog_reading(found_sweep: dict, heaviest: int) -> str:
    """Whether the requests a heaviest-N slice abandoned still reached the slice after it: the
    run's waits for them, and how the next slices did against those after any other."""
    measured = found_sweep["results"]
    heavy = {cell["name"] for cell in measured["cells"] if cell["connections"] == heaviest}
    after = backlog.after_heavy(measured, heavy)
    noise = measured["summary"]["noise"]
    if not any("backlog" in piece for cell in measured["cells"] for piece in cell.get("slices") or []):
        return "this sweep was measured before slices waited for it"
    waited = tables.backlog_waits(noise)
    if after["after_heavy"] is None or after["after_others"] is None:
        return waited
    return (f"{waited}; slices measured right after a {heaviest:,}-connection slice then made "
            f"{after['after_heavy']:.2f}× their instance's median ({after['after_heavy_n']} slices), those after "
            f"any other {after['after_others']:.2f}× ({after['after_others_n']})")


def asyncio_figure(document: dict) -> Figure:
    """Left: each cell's throughput over its best point as the round trip grows; right: over its
    best N as the connections grow at the far round trip. Both paired."""
    figure = Figure(figsize=(figures.WIDTH_IN, 3.8), layout="constrained")
    panels = figure.subplots(1, 2)
    for axes, label, title in ((panels[0], "latency", "ms added per round trip to PostgreSQL (toxiproxy)"),
                               (panels[1], "connections", "connections (at the far round trip)")):
        entry = part_of(document, label)
        ratios = sweep.point_ratios(entry["sweep"])
        for index, (cell_name, points) in enumerate(sweep.series(entry["sweep"]).items()):
            colour = figures.colour_of(points[0][1]) if points[0][1]["kind"] != "python-sync" else "#D55E00"
            ratio_panel(axes, points, ratios, colour, sweep.MARKERS[index % len(sweep.MARKERS)], cell_name)
        swept_axis(axes, entry["values"], title, log2=label == "connections")
    panels[0].set_title("Throughput over the cell's best round trip", loc="left")
    panels[0].set_ylabel("ratio to the best point [95%] (paired)")
    panels[1].set_title(f"Throughput over the cell's best N, at +{part_of(document, 'connections')['db_latency_ms']} "
                        "ms", loc="left")
    figures.legend_below(figure, panels[0].get_legend_handles_labels()[0])
    return figure


# ----------------------------------------------------------------- the lessons


# ----------------------------------------------------------------- where a request's time goes


def time_goes_numbers(document: dict) -> dict[str, str]:
    """Per cell and party, CPU µs per request with its interval; per framework, what turning the
    pool reset off changed: PostgreSQL's µs and the blocked throughput ratio."""
    numbers: dict[str, str] = {}
    rows = []
    for cell in figures.ordered_cells(document["cells"]):
        if cell["status"] != "ok" or not cell.get("slices_used"):
            continue
        key = key_of(cell["name"])
        for party in ("server", "postgres", "wrk"):
            numbers[f"{key}_{party}_us"] = fmt_interval(per_slice(cell, party))
        numbers[f"{key}_statements"] = tables.spr_text(cell)
        rows.append([cell["name"], numbers[f"{key}_statements"], *[numbers[f"{key}_{party}_us"]
                                                                   for party in ("server", "postgres", "wrk")]])
    numbers["table"] = tables.md_table(["cell", "statements per request", "server µs [95%]", "PostgreSQL µs [95%]",
                                        "wrk µs [95%]"], rows)
    for found in tables.comparisons_of(document, "orm-tax").values():
        numbers[f"{key_of(found['a'])}_over_raw"] = tables.fmt_ratio(found)
    return numbers


def time_goes_figure(document: dict) -> Figure:
    return figures.cpu(document)


def ratio_panel(axes, points: list[tuple[int, dict]], ratios: dict[str, dict], colour: str, marker: str,
                label: str) -> None:
    """A cell's points as paired ratios to its best point, each with its interval's whisker."""
    shares = [(value, ratios.get(cell["name"])) for value, cell in points]
    axes.plot([value for value, _ in shares], [found["ratio"] if found else 1.0 for _, found in shares],
              marker=marker, color=colour, label=label)
    for value, found in shares:
        if found and found.get("ci95"):
            figures.whisker_vertical(axes, value, found["ratio"], found["ci95"], colour)
    axes.axhline(1.0, color="#888888", linewidth=0.8)
    axes.yaxis.set_major_formatter(figures.FuncFormatter(lambda share, _: f"{share:.0%}"))


def swept_axis(axes, values: list[int], label: str, log2: bool = False) -> None:
    """The swept parameter on x, each value a tick."""
    if log2:
        axes.set_xscale("log", base=2)
    axes.set_xticks(values, [str(v) for v in values])
    axes.set_xlabel(label)
    axes.grid(color="#E5E5E5", linewidth=0.8)


# ----------------------------------------------------------------- concurrency and Little's law

LITTLE_CONNECTIONS = [1, 4, 16, 64, 256]
LITTLE_POOL = 32  # one pool for every point, so that all ten instances fit under max_connections in one group


def littles_law_numbers(document: dict) -> dict[str, str]:
    """Per cell and concurrency N: RPS, its paired ratio to the cell's best N, wrk's mean latency,
    and Little's N / RPS beside it; per cell, the knee: the smallest N whose throughput cannot
    be told from the best."""
    numbers: dict[str, str] = {}
    rows = []
    ratios = paired(document, "littles-law")
    numbers["widest"] = widest(ratios)
    for cell_name, points in sweep.series(document).items():
        key = key_of(cell_name)
        best_n, best = best_point(cell_name, points)
        numbers[f"{key}_top"] = f"{best['rps_median']:,.0f}"
        numbers[f"{key}_best_n"] = str(best_n)
        numbers[f"{key}_knee"] = str(min(n for n, cell in points if level_with_best(cell, ratios)))
        for connections, cell in points:
            measured = stats.estimate([piece["rps"] for piece in results.used_slices(cell)])
            mean_ms = cell["latency_ms"]["mean"]
            predicted_ms = connections / cell["rps_median"] * 1000
            numbers.update({f"{key}_{connections}_rps": fmt_interval(measured),
                            f"{key}_{connections}_share": share_text(cell, ratios),
                            f"{key}_{connections}_verdict": verdict(cell, ratios),
                            f"{key}_{connections}_mean_ms": f"{mean_ms:.2f}",
                            f"{key}_{connections}_little_ms": f"{predicted_ms:.2f}"})
            rows.append([cell_name, str(connections), numbers[f"{key}_{connections}_rps"],
                         numbers[f"{key}_{connections}_share"], f"{mean_ms:.2f}", f"{predicted_ms:.2f}",
                         f"{mean_ms / predicted_ms:.2f}"])
        numbers[f"{key}_below_past"] = ", ".join(
            str(n) for n, cell in points if n > best_n and below_best(cell, ratios)) or "none"
    numbers["table"] = tables.md_table(["cell", "connections N", "RPS [95%]", "over the cell's best N, paired [95%]",
                                        "wrk's mean latency, ms", "N / RPS, ms", "measured / Little"], rows)
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
        swept_axis(axes, document["values"], "connections (closed-loop concurrency)", log2=True)
    left.set_title("Throughput over the cell's best N (paired)", loc="left")
    left.set_ylabel("ratio to the best N [95%]")
    right.set_yscale("log")
    right.set_title("Latency, measured and by Little's law", loc="left")
    right.set_ylabel("ms (log scale)")
    figures.legend_below(figure, right.get_legend_handles_labels()[0])
    return figure


# ----------------------------------------------------------------- how big should the pool be


HIKARI_POOL = 5  # HikariCP's "About Pool Sizing": cores x 2 + spindles, for this machine's 2 cores and 1 disk
POOL_VALUES = [2, HIKARI_POOL, 16, 72]  # 72: the rule's pool at 64 connections (64 + 12.5%)
# Per sweep: about 34 rounds of the 8 instances, for ratios within about ±10% on a day when
# 200 s (11 rounds, the scenario's 6 s warm-up each) gave ±11-16%; three sweeps, about 22 minutes.
POOL_BUDGET_S = 420
# Loopback without toxiproxy and with it (so that the pool's effect is told from the proxy's), then +2 ms.
POOL_SWEEPS = [Part("direct", "pool-size", POOL_VALUES), Part("0", "pool-size", POOL_VALUES, proxy=True),
               Part("2", "pool-size", POOL_VALUES, proxy=True, db_latency_ms=2)]


def paired(found: dict, lesson_name: str) -> dict[str, dict]:
    """A paired sweep's ratios of each point to its cell's best point, by instance name; a sweep
    measured one point after the other has none, and the lesson's text needs them."""
    if not sweep.is_paired(found):
        raise DbbenchError(f"lesson {lesson_name}: its results were measured one point after the other; "
                           f"run `make lesson-{lesson_name}` to measure them paired")
    return sweep.point_ratios(found)


def best_point(cell_name: str, points: list[tuple[int, dict]]) -> tuple[int, dict]:
    """The point a series' ratios are taken to: the clean point with the highest median, by the
    definition the run's own comparisons use (results.best_points)."""
    references = set(results.best_points([cell for _, cell in points if cell.get("clean")]).values())
    found = next(((value, cell) for value, cell in points if cell["name"] in references), None)
    if found is None:
        raise DbbenchError(f"no point of {cell_name} was measured cleanly: nothing to take its ratios to")
    return found


def share_text(cell: dict, ratios: dict[str, dict]) -> str:
    """A point's throughput over its cell's best point: 93% [88–98%], or "the best"."""
    if not cell.get("clean"):
        return "not measured cleanly"
    found = ratios.get(cell["name"])
    return "the best" if found is None else tables.fmt_ratio(found, percent=True).removesuffix(" (tie)")


def verdict(cell: dict, ratios: dict[str, dict]) -> str:
    """What a point's paired ratio to its cell's best point says, in words: the words of
    level_with_best and below_best, so that the text and the knee cannot disagree."""
    if not cell.get("clean"):
        return f"not measured cleanly ({cell.get('status', 'failed')})"
    if cell["name"] not in ratios:
        return "the best"
    if level_with_best(cell, ratios):
        return "cannot be told from the best"
    if below_best(cell, ratios):
        return "below the best"
    return "no interval (too few rounds shared with the best)"


def level_with_best(cell: dict, ratios: dict[str, dict]) -> bool:
    """The best point itself, or one whose interval of the ratio to it holds 1."""
    found = ratios.get(cell["name"])
    return bool(cell.get("clean")) and (found is None or (found.get("ci95") is not None and found["tie"]))


def below_best(cell: dict, ratios: dict[str, dict]) -> bool:
    """A point whose whole interval of the ratio to its cell's best lies under 1."""
    found = ratios.get(cell["name"])
    return bool(cell.get("clean")) and found is not None and found.get("ci95") is not None and not found["tie"]


def widest(ratios: dict[str, dict]) -> str:
    """The widest half-width of a sweep's paired ratios, as ±%."""
    widths = [found["half_width"] for found in ratios.values() if found.get("half_width") is not None]
    return f"±{max(widths):.1%}" if widths else "no interval"


PATH_TITLES = {"direct": "loopback, no proxy", "0": "loopback through toxiproxy (+0 ms)",
               "2": "toxiproxy adding 2 ms per round trip"}


def pool_numbers(document: dict) -> dict[str, str]:
    """Per network path and cell: each pool's paired ratio to the cell's best pool, what it says,
    the pool `dbbench tune` would choose from it, and Little's law on the pool (the best RPS times
    the added round trip; each pool's hold time, pool / RPS)."""
    numbers: dict[str, str] = {}
    rows = []
    for entry in document["sweeps"]:
        label, latency = entry["label"], entry["db_latency_ms"]
        ratios = paired(entry["sweep"], "pool-size")
        numbers[f"widest_{label}"] = widest(ratios)
        for cell_name, points in sweep.series(entry["sweep"]).items():
            key = f"{key_of(cell_name)}_{label}"
            chosen = tune.choose(points, ratios, rule_pool=POOL_VALUES[-1])
            best = dict(points)[chosen["best_pool"]]
            numbers.update({f"{key}_best": f"{best['rps_median']:,.0f}", f"{key}_best_pool": str(chosen["best_pool"]),
                            f"{key}_tuned": str(chosen["pool"]) + (" (the best, inconclusive)"
                                                                   if chosen["inconclusive"] else ""),
                            f"{key}_in_flight": f"{best['rps_median'] * latency / 1000:.1f}"})
            below = []
            for pool, cell in points:
                measured = stats.estimate([piece["rps"] for piece in results.used_slices(cell)])
                numbers.update({f"{key}_{pool}_rps": fmt_interval(measured),
                                f"{key}_{pool}_share": share_text(cell, ratios),
                                f"{key}_{pool}_verdict": verdict(cell, ratios),
                                # Little's law on the pool: with every connection busy, each was held pool / RPS.
                                f"{key}_{pool}_hold_ms": f"{pool / cell['rps_median'] * 1000:.1f}"})
                if below_best(cell, ratios):
                    below.append(str(pool))
                rows.append([cell_name, PATH_TITLES.get(label, label), str(pool), numbers[f"{key}_{pool}_rps"],
                             numbers[f"{key}_{pool}_share"], "yes" if pool == chosen["pool"] else ""])
            numbers[f"{key}_below"] = ", ".join(below) if below else "none"
    numbers["table"] = tables.md_table(["cell", "path to PostgreSQL", "pool per worker", "RPS [95%]",
                                        "over the cell's best pool, paired [95%]", "tune's choice"], rows)
    numbers["proxy_reading"] = "; ".join(proxy_reading(numbers, name) for name in ("fastapi/raw", "gin/raw"))
    return numbers


def proxy_reading(numbers: dict[str, str], cell_name: str) -> str:
    """Whether the rule's pool fell below the best with the proxy, without it, on both paths or on neither."""
    rule = POOL_VALUES[-1]
    direct, proxied = (numbers.get(f"{key_of(cell_name)}_{label}_{rule}_verdict") == "below the best"
                       for label in ("direct", "0"))
    if direct and proxied:
        return f"for {cell_name} the rule's {rule} fell below the best on both paths: the cost is the pool's"
    if proxied:
        return (f"for {cell_name} it fell below the best through the proxy only: the cost belongs to the proxy "
                "sharing the two cores, not to the pool")
    if direct:
        return f"for {cell_name} it fell below the best without the proxy only"
    return f"for {cell_name} no cost of the rule's {rule} can be told on either path"


def pool_figure(document: dict) -> Figure:
    """Per path, each pool's paired ratio to its cell's best pool, with its interval."""
    figure = Figure(figsize=(figures.WIDTH_IN, 3.8), layout="constrained")
    panels = figure.subplots(1, len(document["sweeps"]), sharey=True)
    for axes, entry in zip(panels, document["sweeps"], strict=True):
        ratios = sweep.point_ratios(entry["sweep"])
        for index, (cell_name, points) in enumerate(sweep.series(entry["sweep"]).items()):
            colour = figures.colour_of(points[0][1]) if not points[0][1].get("reference") else "#555555"
            ratio_panel(axes, points, ratios, colour, sweep.MARKERS[index], cell_name)
        for pool, text in ((HIKARI_POOL, "HikariCP"), (POOL_VALUES[-1], "rule")):
            axes.axvline(pool, color="#999999", linestyle=":", linewidth=1)
            axes.text(pool, 0.02, f" {text}", fontsize=8, color="#555555", va="bottom",
                      transform=axes.get_xaxis_transform())
        swept_axis(axes, entry["values"], "pool size per worker", log2=True)
        axes.set_title(PATH_TITLES.get(entry["label"], entry["label"]), loc="left", fontsize=9)
    panels[0].set_ylabel("throughput over the cell's best pool [95%]")
    figures.legend_below(figure, panels[0].get_legend_handles_labels()[0])
    return figure


# ----------------------------------------------------------------- processes and the GIL


def processes_numbers(document: dict) -> dict[str, str]:
    """Per cell and worker count: RPS, the cores each party used and their sum; per cell, the
    second worker's gain, a paired ratio with its interval."""
    numbers: dict[str, str] = {}
    rows = []
    paired(document, "processes")  # only its refusal of a sweep measured one point after another
    comparison = blocked(document["results"])
    for cell_name, points in sweep.series(document).items():
        key = key_of(cell_name)
        for workers, cell in points:
            cores = cell["cpu_cores"]
            total = sum(value for value in cores.values() if value is not None)
            measured = stats.estimate([piece["rps"] for piece in results.used_slices(cell)])
            outside = stats.median([piece["noise"]["outside_cores"] for piece in results.used_slices(cell)
                                         if piece.get("noise")])
            numbers.update({f"{key}_{workers}_rps": fmt_interval(measured),
                            **{f"{key}_{workers}_{party}_cores": f"{cores[party]:.2f}"
                               for party in ("server", "postgres", "wrk")},
                            f"{key}_{workers}_total_cores": f"{total:.2f}",
                            f"{key}_{workers}_outside_cores": "—" if outside is None else f"{outside:.2f}"})
            rows.append([cell_name, str(workers), numbers[f"{key}_{workers}_rps"],
                         *[numbers[f"{key}_{workers}_{party}_cores"] for party in ("server", "postgres", "wrk")],
                         numbers[f"{key}_{workers}_total_cores"]])
        gain = ratio_between(comparison, points[-1][1]["name"], points[0][1]["name"])
        numbers[f"{key}_gain"] = tables.fmt_ratio(gain).removesuffix(" (tie)") if gain else "—"
        numbers[f"{key}_verdict"] = gain_verdict(gain)
    numbers["table"] = tables.md_table(["cell", "workers", "RPS [95%]", "server cores", "PostgreSQL cores",
                                        "wrk cores", "all three"], rows)
    return numbers


def gain_verdict(found: dict | None) -> str:
    if found is None or found.get("ci95") is None:
        return "too few rounds for an interval: a difference the data cannot tell"
    low, high = found["ci95"]
    if low > 1:
        return "its interval lies above 1: a gain"
    if high < 1:
        return "its interval lies below 1: a loss"
    return "its interval contains 1: a difference the data cannot tell"


def processes_figure(document: dict) -> Figure:
    figure = Figure(figsize=(figures.WIDTH_IN, 3.8), layout="constrained")
    left, right = figure.subplots(1, 2)
    lines = sweep.series(document)
    for index, (cell_name, points) in enumerate(lines.items()):
        colour = figures.colour_of(points[0][1]) if not points[0][1].get("reference") else "#555555"
        ratio_panel(left, points, sweep.point_ratios(document), colour, sweep.MARKERS[index], cell_name)
    names = list(lines)
    width = 0.8 / max(1, len(document["values"]))
    for offset, workers in enumerate(document["values"]):
        bottoms = [0.0] * len(names)
        for party in ("server", "postgres", "wrk"):
            heights = [dict(lines[name])[workers]["cpu_cores"][party] or 0.0 for name in names]
            xs = [i + (offset - (len(document["values"]) - 1) / 2) * width for i in range(len(names))]
            right.bar(xs, heights, width=width * 0.9, bottom=bottoms, color=figures.PARTY_COLOURS[party],
                      label=figures.PARTY_TITLES[party] if offset == 0 else None, edgecolor="white", linewidth=0.5)
            bottoms = [b + h for b, h in zip(bottoms, heights, strict=True)]
            for x, top in zip(xs, bottoms, strict=True):
                if party == "wrk":
                    right.text(x, top, f"{workers}", ha="center", va="bottom", fontsize=8)
    machine = first_run(document)["metadata"]["machine"]
    right.axhline(machine.get("cpus_available") or machine["cpu_count"], color="#B00020", linestyle="--", linewidth=1)
    right.set_xticks(range(len(names)), names)
    right.set_ylabel("cores used (median over slices)")
    right.set_title("Cores used, by worker count (on top)", loc="left")
    swept_axis(left, document["values"], "worker processes (GOMAXPROCS for Go)")
    left.set_title("Throughput over the cell's best worker count (paired)", loc="left")
    left.set_ylabel("ratio to the best [95%]")
    figures.legend_below(figure, left.get_legend_handles_labels()[0] + right.get_legend_handles_labels()[0])
    return figure


# ----------------------------------------------------------------- the ORM tax, taken apart


ORM_VARIANTS = ["raw", "sa-core", "sa-lambda", "sa-orm", "sa-orm-nocache", "gino-baked", "gino-orm"]
# Each layer of the tax is one pair of variants that differ in that layer only: (name, with it, without it).
ORM_LAYERS = (
    ("compilation", "sa-orm-nocache", "sa-orm"),
    ("orm", "sa-orm", "sa-core"),
    ("lambda", "sa-lambda", "sa-orm"),
    ("core", "sa-core", "raw"),
    ("gino_baking", "gino-baked", "gino-orm"),
    ("cached", "gino-baked", "sa-lambda"),
)


def blocked(document: dict) -> stats.BlockedComparison:
    """Every clean cell's slices by (group, round), for ratios between any two of them."""
    return stats.BlockedComparison({
        cell["name"]: {(piece["group"], piece["round"]): piece["rps"] for piece in results.used_slices(cell)}
        for cell in document["cells"] if cell.get("clean")})


def orm_tax_numbers(document: dict) -> dict[str, str]:
    return variant_numbers(document) | layer_numbers(layer_prices(document))


def variant_numbers(document: dict) -> dict[str, str]:
    """Per variant: RPS, the share of raw, server and PostgreSQL µs per request, statements."""
    numbers: dict[str, str] = {}
    rows = []
    by_variant = orm_variants(document)
    framework = by_variant["raw"]["framework"]
    comparison = blocked(document)
    for variant in ORM_VARIANTS:
        cell, key = by_variant[variant], key_of(variant)
        over_raw = comparison.ratio(cell["name"], by_variant["raw"]["name"]) if variant != "raw" else None
        numbers.update({
            f"{key}_rps": fmt_interval(stats.estimate([piece["rps"] for piece in results.used_slices(cell)])),
            f"{key}_over_raw": "1" if variant == "raw" else fmt_ratio(over_raw) if over_raw else "—",
            f"{key}_server_us": fmt_interval(per_slice(cell, "server")),
            f"{key}_postgres_us": fmt_interval(per_slice(cell, "postgres")),
            f"{key}_statements": tables.spr_text(cell),
        })
        rows.append([f"{framework}/{variant}", numbers[f"{key}_rps"], numbers[f"{key}_over_raw"],
                     numbers[f"{key}_server_us"], numbers[f"{key}_postgres_us"], numbers[f"{key}_statements"]])
    numbers["table"] = tables.md_table(["cell", "RPS [95%]", "over raw [95%]", "server µs per request [95%]",
                                        "PostgreSQL µs per request [95%]", "statements per request"], rows)
    return numbers


def layer_numbers(prices: dict[str, tuple[stats.Ratio, float]]) -> dict[str, str]:
    """Per layer: the blocked throughput ratio of the pair that differs in it, the server µs the
    layer costs (the difference of the two medians), and what the interval lets one say."""
    numbers: dict[str, str] = {}
    for layer, (found, us) in prices.items():
        numbers[f"{layer}_ratio"] = fmt_ratio(found)
        numbers[f"{layer}_us"] = f"{us:+,.0f}"
        numbers[f"{layer}_verdict"] = ("no difference the data can tell (the interval contains 1)"
                                       if not found.excludes_one() else
                                       "less throughput" if found.value < 1 else "more throughput")
    return numbers


def orm_variants(document: dict) -> dict[str, dict]:
    """The run's clean cell of every ORM variant, by variant; one missing is an error."""
    by_variant = {cell["variant"]: cell for cell in document["cells"] if cell.get("clean")}
    missing = [variant for variant in ORM_VARIANTS if variant not in by_variant]
    if missing:
        raise DbbenchError(f"the ORM-tax run ({document['metadata']['run']['scenario']}) has no clean "
                           f"measurement of {', '.join(missing)}")
    return by_variant


def layer_prices(document: dict) -> dict[str, tuple[stats.Ratio, float]]:
    """Per layer: the blocked throughput ratio of its pair, and the server µs per request it adds."""
    by_variant, comparison = orm_variants(document), blocked(document)
    prices = {}
    for layer, with_it, without in ORM_LAYERS:
        a, b = by_variant[with_it], by_variant[without]
        found = comparison.ratio(a["name"], b["name"])
        if found is None:
            raise DbbenchError(f"{with_it} and {without} share no round to compare them in")
        prices[layer] = (found, per_slice(a, "server").median - per_slice(b, "server").median)
    return prices


def fmt_ratio(found: stats.Ratio) -> str:
    return tables.fmt_ratio(found.as_dict() | {"tie": not found.excludes_one()})


def orm_tax_figure(document: dict) -> Figure:
    return figures.cpu(document)


ROW_SCENARIOS = ("page", "edit")
LAYER_TITLES = {
    "compilation": "compiling the statement (nocache / orm)",
    "orm": "the ORM over Core (orm / core)",
    "lambda": "a lambda statement (lambda / orm)",
    "core": "SQLAlchemy Core over raw (core / raw)",
    "gino_baking": "GINO's baking (baked / gino-orm)",
    "cached": "baked GINO over lambda (baked / lambda)",
}
TAX_STACK = ("core", "orm", "compilation")  # raw -> Core -> ORM -> ORM without its cache: one step each
SCENARIO_COLOURS = {"page": "#0072B2", "edit": "#D55E00"}


def by_scenario(document: dict, wanted: tuple[str, ...]) -> dict[str, dict]:
    """The runs of a multi-scenario lesson by scenario; one missing is an error."""
    found = {run["metadata"]["run"]["scenario"]: run for run in runs_in(document)}
    missing = [scenario for scenario in wanted if scenario not in found]
    if missing:
        raise DbbenchError(f"the results hold no run of the {', '.join(missing)} scenario")
    return {scenario: found[scenario] for scenario in wanted}


def orm_tax_rows_numbers(document: dict) -> dict[str, str]:
    """The ORM tax's numbers for each of page and edit, every key suffixed with its scenario;
    and one table of every layer's price in both."""
    numbers: dict[str, str] = {}
    prices = {}
    for scenario, run in by_scenario(document, ROW_SCENARIOS).items():
        prices[scenario] = layer_prices(run)
        found = variant_numbers(run) | layer_numbers(prices[scenario])
        numbers.update({f"{key}_{scenario}": value for key, value in found.items()})
        steepest = min(TAX_STACK, key=lambda layer: prices[scenario][layer][0].value)
        numbers[f"steepest_{scenario}"] = LAYER_TITLES[steepest]
        noisy = [cell for cell in orm_variants(run).values() if "noisy" in (cell.get("flags") or [])]
        numbers[f"noisy_{scenario}"] = f"{len(noisy)} of {len(ORM_VARIANTS)}"
    rows = [[LAYER_TITLES[layer], *[text for scenario in ROW_SCENARIOS
                                    for text in (fmt_ratio(prices[scenario][layer][0]),
                                                 f"{prices[scenario][layer][1]:+,.0f}")]]
            for layer, _, _ in ORM_LAYERS]
    header = ["layer (with it / without it)"]
    for scenario in ROW_SCENARIOS:
        header += [f"{scenario}: throughput ratio [95%]", f"{scenario}: server µs"]
    numbers["layers"] = tables.md_table(header, rows)
    return numbers


def orm_tax_rows_figure(document: dict) -> Figure:
    """Each layer's throughput ratio in each scenario, with its interval, on a log axis (a
    ratio and its inverse are the same distance from 1)."""
    runs = by_scenario(document, ROW_SCENARIOS)
    prices = {scenario: layer_prices(run) for scenario, run in runs.items()}
    figure = Figure(figsize=(figures.WIDTH_IN, 1.4 + 0.6 * len(ORM_LAYERS)), layout="constrained")
    axes = figure.add_subplot()
    height = 0.8 / len(runs)
    for index, scenario in enumerate(runs):
        for y, (layer, _, _) in enumerate(ORM_LAYERS):
            found = prices[scenario][layer][0]
            at = y + (index - (len(runs) - 1) / 2) * height
            axes.barh(at, found.value - 1, left=1, height=height * 0.9, color=SCENARIO_COLOURS[scenario],
                      linewidth=0, label=scenario if y == 0 else None)  # from 1: a price left of it, a gain right
            figures.whisker(axes, at, found.value, list(found.ci95) if found.ci95 else None)
            low, high = found.ci95 or (found.value, found.value)
            text = f"{found.value:.2f}" + ("" if found.excludes_one() else " (tie)")
            if found.value < 1:  # beside the whisker, on the bar's own side of 1
                axes.text(low / 1.02, at, text, va="center", ha="right", fontsize=8)
            else:
                axes.text(high * 1.02, at, text, va="center", fontsize=8)
    axes.set_xscale("log", base=2)
    axes.set_xticks([0.25, 0.5, 1, 2, 4], ["0.25", "0.5", "1", "2", "4"])
    ends = [end for found, _ in (price for layers in prices.values() for price in layers.values())
            for end in (found.ci95 or (found.value, found.value))]
    axes.set_xlim(min(0.2, min(ends) / 1.5), max(4, max(ends) * 1.5))  # a ratio outside the ticks still shows
    axes.axvline(1.0, color="black", linewidth=1, linestyle="--")
    axes.set_yticks(range(len(ORM_LAYERS)), [LAYER_TITLES[layer] for layer, _, _ in ORM_LAYERS])
    axes.invert_yaxis()
    axes.set_xlabel("throughput with the layer / without it (blocked ratio, whisker: 95% interval; log scale)")
    axes.set_title("The ORM tax by layer, reading a page of 20 users and editing one", loc="left")
    axes.grid(axis="x", color="#E5E5E5", linewidth=0.8)
    figures.legend_below(figure, axes.get_legend_handles_labels()[0])
    return figure


# ----------------------------------------------------------------- the lessons

# A paired lesson's instances are warmed for 1 s each, all alike, as tuning's are (runner/experiments/tune.py):
# the scenario's 6 s for each of ten instances took 60 s of a 150 s budget and left 4 rounds.


# The committed lessons were measured in 1 s slices, and their pages say so; runs moved to
# half-second slices afterwards. A lesson keeps 1 s unless it sets its own.
LESSON_SLICE_S = 1


def as_measured(options: RunOptions, **changes) -> RunOptions:
    return dataclasses.replace(options, **{"slice_s": options.slice_s or LESSON_SLICE_S, **changes})


def run_experiment(options: RunOptions) -> Callable[[Path], Path]:
    return lambda out: Run(as_measured(options, out=out)).execute()


def sweep_experiment(options: RunOptions, param: str, values: list[int]) -> Callable[[Path], Path]:
    return lambda out: sweep.sweep(as_measured(options, out=out), param, values, out=None)[0]


def scenario_experiment(options: RunOptions, scenarios: tuple[str, ...]) -> Callable[[Path], Path]:
    """The same run once per scenario; one file holding every run."""

    def experiment(out: Path) -> Path:
        runs = []
        for scenario in scenarios:
            path = Run(as_measured(options, scenario=scenario, out=out)).execute()
            runs.append(json.loads(path.read_text()))
        target = out / "runs.json"
        results.write_json({"kind": "runs", "runs": runs}, target)
        return target

    return experiment


def several_sweeps(options: RunOptions, parts: list[Part]) -> Callable[[Path], Path]:
    """Paired sweeps one after the other; one file holding every sweep, written after each."""

    def experiment(out: Path) -> Path:
        document = {"kind": "sweeps", "sweeps": []}
        target = out / "sweeps.json"
        for part in parts:
            settings = dict(proxy=part.proxy, db_latency_ms=part.db_latency_ms, pool_size=part.pool_size)
            timing = {name: value for name, value in (("slice_s", part.slice_s), ("budget_s", part.budget_s))
                      if value is not None}
            found = sweep.sweep(as_measured(options, out=out, **settings, **timing), part.param, part.values,
                                out=None)[1]
            document["sweeps"].append({"label": part.label, "param": part.param, "values": part.values,
                                       **settings, "sweep": found})
            results.write_json(document, target)
        return target

    return experiment


@dataclass(frozen=True)
class Lesson:
    name: str
    question: str
    experiment: Callable[[Path], Path]  # runs it with its results under the directory given; the results file
    numbers: Callable[[dict], dict[str, str]]
    figure: Callable[[dict], Figure]

    @property
    def directory(self) -> Path:
        return LESSONS_DIR / self.name


LESSONS = {
    "event-loop": Lesson(
        "event-loop", "How fast can a single-process async server go, and what sets the bound?",
        run_experiment(RunOptions(budget_s=240)), event_loop_numbers, event_loop_figure),
    "where-time-goes": Lesson(
        "where-time-goes", "Where does a request's time go, and what does asyncpg's pool reset cost?",
        run_experiment(RunOptions(frameworks=["fastapi", "sanic", "gin"], connections=32, budget_s=300,
                                  variants=["raw", "raw-noreset", "gino-orm", "gino-baked", "sa-core"])),
        time_goes_numbers, time_goes_figure),
    "littles-law": Lesson(
        "littles-law", "What does more concurrency buy a closed-loop benchmark, and what does it cost?",
        sweep_experiment(RunOptions(frameworks=["fastapi", "gin"], variants=["raw"], budget_s=330,
                                    pool_size=LITTLE_POOL, short_warmup=True), "connections", LITTLE_CONNECTIONS),
        littles_law_numbers, littles_law_figure),
    "what-asyncio-buys": Lesson(
        "what-asyncio-buys", "What does asyncio buy when the database is across a network?",
        several_sweeps(RunOptions(frameworks=["flask", "fastapi", "sanic"], variants=["raw"], short_warmup=True),
                       ASYNCIO_SWEEPS),
        asyncio_numbers, asyncio_figure),
    "pool-size": Lesson(
        "pool-size", "How big should the connection pool be: at least the connections, or small?",
        several_sweeps(RunOptions(frameworks=["fastapi", "gin"], variants=["raw"], budget_s=POOL_BUDGET_S,
                                  short_warmup=True), POOL_SWEEPS),
        pool_numbers, pool_figure),
    "processes": Lesson(
        "processes", "What does a second worker process buy on two cores?",
        sweep_experiment(RunOptions(frameworks=["fastapi", "sanic", "gin"], variants=["raw"], budget_s=200,
                                    short_warmup=True), "server-cpus", [1, 2]),
        processes_numbers, processes_figure),
    "orm-tax": Lesson(
        "orm-tax", "What does an ORM cost per request, layer by layer?",
        run_experiment(RunOptions(frameworks=["fastapi"], variants=ORM_VARIANTS, connections=32, budget_s=270)),
        orm_tax_numbers, orm_tax_figure),
    "orm-tax-page-edit": Lesson(
        "orm-tax-page-edit", "What does each ORM layer cost when a request reads 20 rows, or writes one?",
        scenario_experiment(RunOptions(frameworks=["fastapi"], variants=ORM_VARIANTS, connections=32, slice_s=2,
                                       rounds=4), ROW_SCENARIOS),
        orm_tax_rows_numbers, orm_tax_rows_figure),
}


def lesson(name: str) -> Lesson:
    if name not in LESSONS:
        raise DbbenchError(f"no lesson {name!r} (lessons: {', '.join(LESSONS)})")
    return LESSONS[name]


def measure(chosen: Lesson) -> Path:
    """The lesson's experiment, run now; its results file replaces the committed one."""
    with tempfile.TemporaryDirectory(prefix=f"dbbench-lesson-{chosen.name}-") as tmp:
        path = chosen.experiment(Path(tmp))
        chosen.directory.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, chosen.directory / "results.json")
    return chosen.directory / "results.json"


def load(source: Path) -> dict:
    """A run's results file, or a sweep's (whose points are runs' results)."""
    try:
        document = json.loads(source.read_text())
    except (OSError, ValueError) as exc:
        raise DbbenchError(f"cannot read {shown(source)}: {exc}") from None
    if document.get("kind") == "runs":
        document["runs"] = [results.finalize(results.upgrade(run)) for run in document["runs"]]
        return document
    if document.get("kind") not in ("sweep", "sweeps"):
        return results.load(source)
    for found in sweeps_of(document):
        results.finalize_runs_in(found)
    return document


def sweeps_of(document: dict) -> list[dict]:
    return [entry["sweep"] for entry in document["sweeps"]] if document.get("kind") == "sweeps" else [document]


def runs_in(document: dict) -> list[dict]:
    """Every run's results document the lesson's file holds, in the order they ran."""
    if document.get("kind") == "runs":
        return document["runs"]
    if document.get("kind") in ("sweep", "sweeps"):
        return [found_run for found in sweeps_of(document) for found_run in sweep.runs(found)]
    return [document]


def first_run(document: dict) -> dict:
    """The results document whose metadata stands for the lesson's experiment."""
    return runs_in(document)[0]


def shown(path: Path) -> str:
    return str(path.relative_to(paths.REPO)) if path.is_relative_to(paths.REPO) else str(path)


def render(chosen: Lesson) -> Path:
    """README.md and figure.svg|png of the lesson, from its committed results file."""
    source = chosen.directory / "results.json"
    if not source.exists():
        raise DbbenchError(f"lesson {chosen.name}: no {shown(source)}: "
                           f"run `make lesson-{chosen.name}`")
    document = load(source)
    numbers = chosen.numbers(document)
    meta = first_run(document)["metadata"]
    numbers.update(
        question=chosen.question, make=f"make lesson-{chosen.name}",
        run=f"{meta['run']['started_at']}, commit {(meta['project'].get('git_commit') or '?')[:12]}"
            f"{' (with uncommitted changes)' if meta['project'].get('git_dirty') else ''}, "
            f"{meta['machine']['cpu_count']} × {meta['machine']['cpu_model']}, "
            f"{', '.join(dict.fromkeys(run['metadata']['run']['scenario'] for run in runs_in(document)))}, "
            f"{meta['run']['connections']} connections",
    )
    template = Template((chosen.directory / "lesson.md.in").read_text())
    try:
        text = template.substitute(numbers)
    except KeyError as exc:
        raise DbbenchError(f"lesson {chosen.name}: the text asks for ${exc.args[0]}, which the results in "
                           f"{shown(source)} do not give") from None
    with matplotlib.rc_context(figures.STYLE):
        drawn = figures.guarded(f"lesson {chosen.name}'s figure", lambda: chosen.figure(document), None)
    for fmt, content in figures.encoded({"figure": drawn} if drawn else {}, "svg").items():
        (chosen.directory / f"{fmt}.svg").write_bytes(content)
    for fmt, content in figures.encoded({"figure": drawn} if drawn else {}, "png").items():
        (chosen.directory / f"{fmt}.png").write_bytes(content)
    page = chosen.directory / "README.md"
    page.write_text(text)
    return page


def _register_lesson_modules() -> None:
    """Lessons written after this module grew large live in modules of their own."""
    from runner.lessons import n_plus_one

    LESSONS[n_plus_one.LESSON.name] = n_plus_one.LESSON


_register_lesson_modules()
