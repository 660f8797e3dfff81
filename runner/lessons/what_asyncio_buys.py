"""The lesson "what asyncio buys" when the database is across a network: threads against the
event loop as round trips are added, and as the connections grow at a fixed round trip."""

from __future__ import annotations

from matplotlib.figure import Figure

from runner.experiments import sweep
from runner.lessons.claims import Claim, Shown, unreadable
from runner.lessons.engine import Lesson, LessonSweep, several_sweeps
from runner.lessons.toolkit import (
    blocked,
    fmt_estimate,
    in_flight,
    median_of,
    paired_ratios,
    part_of,
    per_slice,
    placeholder_of,
    ratio_between,
    ratio_panel,
    round_trips,
    share_text,
    verdict,
    widest,
)
from runner.measure import backlog
from runner.measure.options import RunOptions
from runner.report import about, figures, formatting, results

# First the round trip toxiproxy adds, at 2 connections with a pool of 2 (flask: a thread per
# connection), where at +5 ms the waiting bound 2 / (round trips x 5 ms) falls below every
# cell's CPU bound: the regime the lesson is about. (At 16, flask/raw's CPU bound, about 550
# requests/s, is below its waiting bound of 3,200: its CPU, not its waiting, would set it.)
# Then at +5 ms, wrk's connections up to 1,024 with a pool of 48 per cell (flask: 48
# threads), which covers Little's law at these rates
# (about 2,000 requests/s x 10 ms, two round trips, is 20 in flight); a thread per connection
# at 1,024 would need more connections than PostgreSQL allows here.
NEAR_CONNECTIONS = 2
ASYNCIO_POOL = 48
# The claims' allowances: a throughput "makes" Little's prediction within these factors, and
# threads and the event loop "cover the wait alike" when their shares of it differ by less than this.
REACHES_LOW, REACHES_HIGH = 0.8, 1.2
ALIKE = 0.15
ASYNCIO_SWEEPS = [LessonSweep("latency", "db-latency", [0, 1, 5], proxy=True, connections=NEAR_CONNECTIONS,
                              pool_size=NEAR_CONNECTIONS, budget_s=290),
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
    for cell_name, points in sweep.series(latency["sweep"]).items():
        key = placeholder_of(cell_name)
        zero = dict(points).get(0)
        for added, cell in points:
            measured = results.estimate_of(cell)
            numbers.update({
                f"{key}_{added}_rps": fmt_estimate(measured), f"{key}_{added}_share": share_text(cell, ratios),
                f"{key}_{added}_verdict": verdict(cell, ratios),
                f"{key}_{added}_us": fmt_estimate(per_slice(cell, "server")),
                f"{key}_{added}_cores": f"{cell['cpu_cores']['server']:.2f}",
                f"{key}_{added}_proxy_us": fmt_estimate(per_slice(cell, "proxy")),
                f"{key}_{added}_little_ms": f"{cell['connections'] / cell['rps_median'] * 1000:.1f}",
                f"{key}_{added}_predicted": f"{predicted(cell, zero, added):,.0f}" if added and zero else "—",
                f"{key}_{added}_cpu_bound": f"{1e6 / per_slice(cell, 'server').median:,.0f}",
            })
            rows.append([cell_name, str(added), numbers[f"{key}_{added}_rps"], numbers[f"{key}_{added}_share"],
                         numbers[f"{key}_{added}_us"], numbers[f"{key}_{added}_cores"],
                         numbers[f"{key}_{added}_predicted"], numbers[f"{key}_{added}_cpu_bound"],
                         numbers[f"{key}_{added}_proxy_us"], formatting.fmt_percentile(cell["latency_ms"], "p50")])
    numbers["widest_latency"] = widest(ratios)
    numbers["near_pool"] = str(latency["pool_size"])
    numbers["near_connections"] = str(latency["sweep"]["results"]["metadata"]["run"]["connections"])
    numbers["table"] = formatting.md_table(["cell", "ms added per round trip", "RPS [95%]",
                                        "over the cell's best point, paired [95%]", "server CPU µs per request [95%]",
                                        "server cores used", "Little's law: N / (W at 0 ms + round trips × ms)",
                                        "CPU bound 10⁶ / µs", "toxiproxy CPU µs per request [95%]", "p50 ms"], rows)
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


def predicted(cell: dict, zero: dict, added: int) -> float:
    """Little's law from the cell's own 0 ms point: N requests in flight, each taking what it took
    at 0 ms (N / its RPS there) plus its round trips times the added ms. The CPU a request costs is
    inside its 0 ms time, so threads and an event loop are each held against their own."""
    return in_flight(cell) / (in_flight(zero) / zero["rps_median"] + round_trips(cell["statements_per_request"])
                              * added / 1000)


def far_point(document: dict) -> tuple[int, dict[str, tuple[dict, dict]]]:
    """The latency sweep's largest added ms, and each cell's (0 ms, largest) instances."""
    entry = part_of(document, "latency")
    added = entry["values"][-1]
    return added, {name: (dict(points)[0], dict(points)[added]) for name, points in sweep.series(entry["sweep"]).items()
                   if 0 in dict(points) and added in dict(points)}


def shares_of_prediction(document: dict) -> tuple[int, dict[str, float]] | Shown:
    added, cells = far_point(document)
    if not cells:
        return Shown(False, "no cell was measured at both 0 ms and the largest added ms")
    if reason := unreadable(*(cell for pair in cells.values() for cell in pair)):
        return Shown(False, reason)
    return added, {name: far["rps_median"] / predicted(far, zero, added) for name, (zero, far) in cells.items()}


def little_predicts_the_waiting(document: dict, numbers: dict) -> Shown:
    """At the largest added ms every cell made what Little's law predicts from its 0 ms point."""
    found = shares_of_prediction(document)
    if isinstance(found, Shown):
        return found
    added, shares = found
    said = ", ".join(f"{name} {share:.2f}" for name, share in shares.items())
    return Shown(all(REACHES_LOW <= share <= REACHES_HIGH for share in shares.values()),
                 f"at +{added} ms, measured over predicted: {said}")


def threads_cover_the_wait_as_the_loop_does(document: dict, numbers: dict) -> Shown:
    found = shares_of_prediction(document)
    if isinstance(found, Shown):
        return found
    _, shares = found
    if THREADED_CELL not in shares:
        return Shown(False, f"{THREADED_CELL} has no point at the largest added ms")
    apart = {name: shares[name] / shares[THREADED_CELL] - 1 for name in ASYNC_CELLS if name in shares}
    said = ", ".join(f"{name} {share:.2f}" for name, share in shares.items())
    _, cells = far_point(document)
    trips = ", ".join(f"{name} {round_trips(far['statements_per_request']):g}" for name, (_, far) in cells.items())
    return Shown(bool(apart) and all(abs(gap) < ALIKE for gap in apart.values()),
                 f"measured over Little's prediction: {said}, each asyncio cell within {ALIKE:.0%} of "
                 f"{THREADED_CELL}'s (round trips per request: {trips})")


def each_lost_to_the_waiting(document: dict, numbers: dict) -> Shown:
    entry = part_of(document, "latency")
    added, cells = far_point(document)
    comparison = blocked(entry["sweep"]["results"])
    said = []
    for cell_name, (_, cell) in cells.items():
        kept = comparison.ratio(cell["name"], sweep.instance_name(entry["sweep"], cell_name, 0))
        if kept is None or kept.ci95 is None:
            return Shown(False, f"{cell_name} at +{added} ms has no interval against its 0 ms point")
        said.append(f"{cell_name} {kept.value:.2f} [{kept.ci95[0]:.2f}–{kept.ci95[1]:.2f}]")
        if kept.ci95[1] >= 1:
            return Shown(False, "; ".join(said))
    return Shown(True, f"at +{added} ms over its own 0 ms point, paired: " + "; ".join(said))


def threads_were_not_the_limit(document: dict, numbers: dict) -> Shown:
    entry = part_of(document, "connections")
    points = dict(sweep.series(entry["sweep"]).get(THREADED_CELL, []))
    if not points:
        return Shown(False, f"{THREADED_CELL} was not measured in the connections sweep")
    heaviest = max(points)
    cell = points[heaviest]
    bound = cell["pool_size"] / (round_trips(cell["statements_per_request"]) * entry["db_latency_ms"] / 1000)
    return Shown(cell["rps_median"] < 0.8 * bound,
                 f"at {heaviest:,} connections it made {cell['rps_median']:,.0f} requests/s against the "
                 f"{bound:,.0f} its {cell['pool_size']} threads allow")


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
    asyncio_numbers, asyncio_figure,
    claims=(
        Claim("little", "that at the largest added ms every cell made what Little's law predicts from its own 0 ms "
                        "point and its round trips", "With $near_connections connections, each cell made what "
                                                    "Little's law predicts from its own 0 ms point plus its round "
                                                    "trips' added milliseconds: $why.", little_predicts_the_waiting),
        Claim("lost", "that at the largest added ms every cell lost throughput against its own 0 ms point",
              "Each cell lost throughput to the waiting, $why.", each_lost_to_the_waiting),
        Claim("alike", "that threads and the event loop cover the wait alike at the same number of requests in "
                       "flight", "Each held against its own prediction, in which the CPU a request costs is its "
                                 "own, flask/raw's threads covered the wait as the event loops did: $why.",
              threads_cover_the_wait_as_the_loop_does),
        Claim("threads_not_limit", "that flask/raw's threads were not its limit at the most connections",
              "The threads were not the limit: $why.", threads_were_not_the_limit),
    ),
    answer="alike", read_first=("littles-law",))
