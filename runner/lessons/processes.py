"""The lesson "processes and the GIL": what a second worker process buys on two cores."""

from __future__ import annotations

from matplotlib.figure import Figure

from runner.experiments import sweep
from runner.lessons.claims import Claim, Shown, unreadable
from runner.lessons.engine import Lesson, sweep_experiment
from runner.lessons.toolkit import (
    blocked,
    first_run,
    fmt_estimate,
    paired_ratios,
    placeholder_of,
    ratio_between,
    ratio_panel,
)
from runner.measure.options import RunOptions
from runner.report import figures, formatting, results, stats

ONE_CORE = 1.05  # one event loop's core, with the measurement's own slack
SPARE = 0.1  # cores left unused that a second worker could take


def processes_numbers(document: dict) -> dict[str, str]:
    """Per cell and worker count: RPS, the cores each party used and their sum; per cell, the
    second worker's gain, a paired ratio with its interval."""
    numbers: dict[str, str] = {}
    rows = []
    paired_ratios(document, "processes")  # only its refusal of a sweep measured one point after another
    comparison = blocked(document["results"])
    for cell_name, points in sweep.series(document).items():
        key = placeholder_of(cell_name)
        for workers, cell in points:
            cores = cell["cpu_cores"]
            total = sum(value for value in cores.values() if value is not None)
            measured = results.estimate_of(cell)
            outside = stats.median([piece["noise"]["outside_cores"] for piece in results.used_slices(cell)
                                         if piece.get("noise")])
            numbers.update({f"{key}_{workers}_rps": fmt_estimate(measured),
                            **{f"{key}_{workers}_{party}_cores": f"{cores[party]:.2f}"
                               for party in ("server", "postgres", "wrk")},
                            f"{key}_{workers}_total_cores": f"{total:.2f}",
                            f"{key}_{workers}_pool": str(cell["pool_size"]),
                            f"{key}_{workers}_connections": str(cell["pool_size"] * cell["workers"]),
                            f"{key}_{workers}_outside_cores": "—" if outside is None else f"{outside:.2f}"})
            rows.append([cell_name, str(workers), numbers[f"{key}_{workers}_rps"],
                         *[numbers[f"{key}_{workers}_{party}_cores"] for party in ("server", "postgres", "wrk")],
                         numbers[f"{key}_{workers}_total_cores"]])
        gain = ratio_between(comparison, points[-1][1]["name"], points[0][1]["name"])
        numbers[f"{key}_gain"] = formatting.fmt_ratio(gain).removesuffix(" (tie)") if gain else "—"
        numbers[f"{key}_verdict"] = gain_verdict(gain)
    numbers["table"] = formatting.md_table(["cell", "workers", "RPS [95%]", "server cores", "PostgreSQL cores",
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


def one_loop_one_core(document: dict, numbers: dict) -> Shown:
    """With one worker, no Python server used more than one core."""
    said = []
    for cell_name, points in sweep.series(document).items():
        workers, cell = points[0]
        if cell.get("reference") or workers != 1:
            continue
        if reason := unreadable(cell):
            return Shown(False, reason)
        said.append(f"{cell_name} {cell['cpu_cores']['server']:.2f}")
        if cell["cpu_cores"]["server"] > ONE_CORE:
            return Shown(False, "; ".join(said) + f" cores, above {ONE_CORE}")
    return Shown(bool(said), "with one worker: " + ", ".join(said) + " cores")


def a_second_worker_tells(document: dict, numbers: dict) -> Shown:
    """What a second worker bought fastapi/raw is told by an interval: a gain, a loss, or a tie."""
    points = sweep.series(document)["fastapi/raw"]
    if reason := unreadable(points[0][1], points[-1][1]):
        return Shown(False, reason)
    gain = ratio_between(blocked(document["results"]), points[-1][1]["name"], points[0][1]["name"])
    return Shown(gain is not None and gain.get("ci95") is not None, gain_verdict(gain))


def spare_for_a_second(document: dict, numbers: dict) -> Shown:
    """With one worker the three parties left CPU unused, for a second worker to take."""
    machine = first_run(document)["metadata"]["machine"]
    cores = machine.get("cpus_available") or machine["cpu_count"]
    said = []
    for cell_name, points in sweep.series(document).items():
        _, cell = points[0]
        total = sum(value for value in cell["cpu_cores"].values() if value is not None)
        said.append(f"{cell_name} {cores - total:.2f}")
    return Shown(all(float(text.rsplit(" ", 1)[1]) >= SPARE for text in said),
                 "cores left unused with one worker: " + ", ".join(said))


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
    sweep.parameter_axis(left, document["values"], "worker processes (GOMAXPROCS for Go)")
    left.set_title("Throughput over the cell's best worker count (paired)", loc="left")
    left.set_ylabel("ratio to the best [95%]")
    figures.legend_below(figure, left.get_legend_handles_labels()[0] + right.get_legend_handles_labels()[0])
    return figure


LESSON = Lesson(
    "processes", "What does a second worker process buy on two cores?",
    sweep_experiment(RunOptions(frameworks=["fastapi", "sanic", "gin"], variants=["raw"], budget_s=200,
                                short_warmup=True), "server-cpus", [1, 2]),
    processes_numbers, processes_figure,
    claims=(
        Claim("gain", "what a second worker bought fastapi/raw, paired",
              "A second worker bought fastapi/raw $fastapi_raw_gain of its one-worker throughput: $why.",
              a_second_worker_tells),
        Claim("one_core", "that with one worker a Python server used at most one core",
              "With one worker, no Python server used more than one core (5% allowed for the measurement's "
              "slack): $why.", one_loop_one_core),
        Claim("spare", "that with one worker the three parties left CPU for a second worker to take",
              "With one worker, the server, PostgreSQL and wrk left CPU unused: $why.", spare_for_a_second),
    ),
    answer="gain", read_first=("event-loop",))
