"""The lesson "what asyncio buys" when the database is across a network: threads against the
event loop as round trips are added, and as the connections grow at a fixed round trip."""

from __future__ import annotations

from matplotlib.figure import Figure

from runner.experiments import sweep
from runner.lessons.engine import Lesson, LessonSweep, several_sweeps
from runner.lessons.toolkit import (
    below_best,
    blocked,
    fmt_estimate,
    median_of,
    paired_ratios,
    part_of,
    per_slice,
    placeholder_of,
    ratio_between,
    ratio_panel,
    share_text,
    verdict,
    widest,
)
from runner.measure import backlog
from runner.measure.options import RunOptions
from runner.report import about, figures, formatting, results

# At 64 connections, the round trip toxiproxy adds, with a pool of 64 (flask: a thread per
# connection): the rule's 72 put the nine instances over max_connections, in two groups tied
# through an anchor (ratios to ±26%). Then at +5 ms, wrk's connections up to 1,024 with a pool
# of 48 per cell (flask: 48 threads), which covers Little's law at these rates (about 2,000
# requests/s x 10 ms, two round trips, is 20 in flight) and lets all 12 instances fit in one
# group; a thread per connection at 1,024 would need more connections than PostgreSQL allows here.
ASYNCIO_POOL = 48
ASYNCIO_SWEEPS = [LessonSweep("latency", "db-latency", [0, 1, 5], proxy=True, pool_size=64, budget_s=290),
                  LessonSweep("connections", "connections", [16, 64, 256, 1024], proxy=True, db_latency_ms=5,
                              pool_size=ASYNCIO_POOL, slice_s=2, budget_s=360)]
ASYNC_CELLS = ("fastapi/raw", "sanic/raw")
THREADED_CELL = "flask/raw"


def asyncio_numbers(document: dict) -> dict[str, str]:
    """The latency sweep: per cell and added round trip, RPS, its paired ratio to the cell's best
    point, the server's and the proxy's CPU per request. The connections sweep at +5 ms: per cell
    and N, RPS, its ratio to the best N, p99 and the server's resident memory; per N, each asyncio
    cell over flask/raw, paired."""
    numbers: dict[str, str] = {}
    latency = part_of(document, "latency")
    ratios = paired_ratios(latency["sweep"], "what-asyncio-buys")
    rows = []
    below = []
    for cell_name, points in sweep.series(latency["sweep"]).items():
        key = placeholder_of(cell_name)
        for added, cell in points:
            measured = results.estimate_of(cell)
            numbers.update({
                f"{key}_{added}_rps": fmt_estimate(measured), f"{key}_{added}_share": share_text(cell, ratios),
                f"{key}_{added}_verdict": verdict(cell, ratios),
                f"{key}_{added}_us": fmt_estimate(per_slice(cell, "server")),
                f"{key}_{added}_cores": f"{cell['cpu_cores']['server']:.2f}",
                f"{key}_{added}_proxy_us": fmt_estimate(per_slice(cell, "proxy")),
                f"{key}_{added}_little_ms": f"{cell['connections'] / cell['rps_median'] * 1000:.1f}",
            })
            rows.append([cell_name, str(added), numbers[f"{key}_{added}_rps"], numbers[f"{key}_{added}_share"],
                         numbers[f"{key}_{added}_us"], numbers[f"{key}_{added}_cores"],
                         numbers[f"{key}_{added}_proxy_us"], formatting.fmt_percentile(cell["latency_ms"], "p50")])
        if below_best(points[-1][1], ratios):
            below.append(cell_name)
    numbers["hidden"] = (f"at +{latency['values'][-1]} ms, {', '.join(below)} fell below its best point, paired"
                         if below else f"at +{latency['values'][-1]} ms no cell fell below its best point, paired: "
                                       "no cost of the waiting can be told")
    numbers["widest_latency"] = widest(ratios)
    numbers["near_pool"] = str(latency["pool_size"])
    numbers["table"] = formatting.md_table(["cell", "ms added per round trip", "RPS [95%]",
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
    ratios = paired_ratios(found_sweep, "what-asyncio-buys")
    comparison = blocked(found_sweep["results"])
    lines = sweep.series(found_sweep)
    rows = []
    for cell_name, points in lines.items():
        key = placeholder_of(cell_name)
        for n, cell in points:
            memory = median_of(cell, "server_rss_mib")
            numbers.update({f"{key}_n{n}_share": share_text(cell, ratios),
                            f"{key}_n{n}_verdict": verdict(cell, ratios),
                            f"{key}_n{n}_p99": formatting.fmt_percentile(cell["latency_ms"], "p99", digits=0),
                            f"{key}_n{n}_mib": "—" if memory is None else f"{memory:,.0f}",
                            f"{key}_n{n}_rps": f"{cell['rps_median']:,.0f}",
                            # Little's law: how long each request spent in the system, against the slice
                            f"{key}_n{n}_little_s": f"{n / cell['rps_median']:.1f}"})
            rows.append([cell_name, str(n), numbers[f"{key}_n{n}_rps"], numbers[f"{key}_n{n}_share"],
                         numbers[f"{key}_n{n}_p99"], numbers[f"{key}_n{n}_mib"]])
    threaded = dict(lines.get(THREADED_CELL, []))
    parted = []
    for cell_name in ASYNC_CELLS:
        key = placeholder_of(cell_name)
        for n, cell in lines.get(cell_name, []):
            against = ratio_between(comparison, cell["name"], threaded[n]["name"]) if n in threaded else None
            numbers[f"{key}_n{n}_over_flask"] = formatting.fmt_ratio(against) if against else "—"
            if against and against.get("ci95") and not against["tie"]:
                parted.append(f"{cell_name} at {n} ({numbers[f'{key}_n{n}_over_flask']})")
    numbers["parted"] = ("the asyncio cells' throughput was told apart from flask/raw's at: " + "; ".join(parted)
                         if parted else "at no N was an asyncio cell's throughput told apart from flask/raw's")
    numbers["widest_connections"] = widest(ratios)
    numbers["far_slice_s"] = str(found_sweep["results"]["metadata"]["run"]["slice_s"])
    numbers["far_backlog"] = backlog_reading(found_sweep, max(entry["values"]))
    numbers["far_table"] = formatting.md_table(["cell", "connections N", "median RPS",
                                            "over the cell's best N, paired [95%]", "p99 ms (wrk, closed loop)",
                                            "server resident memory, MiB"], rows)
    numbers["far_table"] += "".join("\n\n" + line for line in formatting.left_out_percentiles(
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
    waited = about.backlog_waits(noise)
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
        sweep.parameter_axis(axes, entry["values"], title)
    panels[0].set_title("Throughput over the cell's best round trip", loc="left")
    panels[0].set_ylabel("ratio to the best point [95%] (paired)")
    panels[1].set_title(f"Throughput over the cell's best N, at +{part_of(document, 'connections')['db_latency_ms']} "
                        "ms", loc="left")
    figures.legend_below(figure, panels[0].get_legend_handles_labels()[0])
    return figure


LESSON = Lesson(
    "what-asyncio-buys", "What does asyncio buy when the database is across a network?",
    several_sweeps(RunOptions(frameworks=["flask", "fastapi", "sanic"], variants=["raw"], short_warmup=True),
                   ASYNCIO_SWEEPS),
    asyncio_numbers, asyncio_figure)
