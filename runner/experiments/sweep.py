"""The sweep: the same cells measured at each value of one parameter.

Paired (pool size, connections, server CPUs, added latency): every point is an instance of
its cell in one run, warm beside the others and measured in the same shuffled rounds, as the
cells of a run are. Drift between points then cancels within each round, and each point's
throughput is a blocked ratio to its cell's best point, with its interval. Each instance has
its own pool, its own wrk connection count, its own worker count and affinity, or its own
toxiproxy listener. Instances are grouped under max_connections and tied across groups
through an anchor, as cells are (runner/measure/schedule.py).

Sequential (rate): a constant-rate point is a run of its own, one after the other; its
figures have each point's own intervals, and a comparison across points is unpaired.

sweep.json holds the paired run's results document (every slice raw; written when the run
ends, while the run's own results.json beside it is rewritten after every slice), or every
sequential point's (rewritten after each point); the report and figures are rendered from
that file alone.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import matplotlib
from matplotlib.figure import Figure

from runner.base import instants, paths
from runner.base.errors import DbbenchError
from runner.measure.options import RunOptions
from runner.measure.run import Run
from runner.report import about, figures, formatting, page, results

# The parameter as the command line names it, and the run option it sets.
PARAMS = {"connections": "connections", "pool-size": "pool_size", "server-cpus": "server_cpus",
          "db-latency": "db_latency_ms", "rate": "rate"}
SCHEMA_VERSION = 2  # 2: a paired sweep holds one run ("results"), its points as instances
PAIRED = ("connections", "pool-size", "server-cpus", "db-latency")
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
SWEEP_CAPTION = ("One line per cell, coloured by strategy, a marker per framework; throughput whiskers are each "
                 "point's own 95% interval. Latency is wrk's, closed-loop; in a rate sweep it is oha's, at a constant "
                 "rate, from each request's intended send time, and the throughput is the rate achieved.")
RATIO_CAPTION = ("Each point's throughput over its cell's best point, measured paired (the points were warm "
                 "instances in the same shuffled rounds): the ratio of blocked slices with its 95% interval; the "
                 "best point sits at 1 without one.")


def parse_param(text: str) -> tuple[str, list[int]]:
    """NAME=V1,V2,...: a known parameter and two or more distinct whole values."""
    name, _, listed = text.partition("=")
    if name not in PARAMS:
        raise DbbenchError(f"--param {name!r}: sweepable are {', '.join(PARAMS)} (NAME=V1,V2,...)")
    try:
        values = [int(value) for value in listed.split(",") if value.strip()]
    except ValueError:
        raise DbbenchError(f"--param {text!r}: the values are whole numbers, such as connections=8,64") from None
    if len(values) < 2 or len(set(values)) != len(values):
        raise DbbenchError(f"--param {text!r}: give two or more distinct values")
    lowest = 0 if name == "db-latency" else 1
    if min(values) < lowest:
        raise DbbenchError(f"--param {text!r}: values must be at least {lowest}")
    return name, values


def sweep(options: RunOptions, param: str, values: list[int], out: Path | None) -> tuple[Path, dict]:
    """A paired sweep where the parameter allows, else one run per value; sweep.json as it goes."""
    directory = results.new_run_dir((out or options.out or paths.REPO / "results") / "sweep")
    path = directory / "sweep.json"
    document = {"kind": "sweep", "schema_version": SCHEMA_VERSION, "complete": False, "param": param,
                "values": values, "paired": param in PAIRED, "started_at": instants.utc_now(), "finished_at": None}
    if document["paired"]:
        paired(options, document, directory)
    else:
        sequential(options, document, directory)
    return path, document


def paired(options: RunOptions, document: dict, directory: Path) -> None:
    """One run whose members are every cell at every value."""
    path = directory / "sweep.json"
    runner = Run(dataclasses.replace(options, out=directory / "run", points=(document["param"], document["values"])))
    document["results"] = None
    try:
        runner.execute()
        document["complete"] = True
    finally:
        if runner.results_path.exists():
            document["results"] = results.load(runner.results_path)
        document["finished_at"] = instants.utc_now()
        results.write_json(document, path)
        if document["results"] and options.pages:
            write_report(document, directory)


def sequential(options: RunOptions, document: dict, directory: Path) -> None:
    """One run per value, in the order given; sweep.json after each."""
    path = directory / "sweep.json"
    document["points"] = []
    try:
        for value in document["values"]:
            runner = Run(dataclasses.replace(options, out=directory / "points", **{PARAMS[document["param"]]: value}))
            try:
                runner.execute()
            finally:
                if runner.results_path.exists():
                    document["points"].append({"value": value, "results": results.load(runner.results_path)})
                    results.write_json(document, path)
        document["complete"] = True
    finally:
        document["finished_at"] = instants.utc_now()
        results.write_json(document, path)
        if document["points"] and options.pages:
            write_report(document, directory)


def is_paired(document: dict) -> bool:
    return document.get("results") is not None


def runs(document: dict) -> list[dict]:
    """The results documents a sweep holds: its one paired run, or a run per point."""
    if is_paired(document):
        return [document["results"]]
    return [point["results"] for point in document.get("points", [])]


def series(document: dict) -> dict[str, list[tuple[int, dict]]]:
    """Each cell's measured points, (value, cell record), in the sweep's order."""
    found: dict[str, list[tuple[int, dict]]] = {}
    if is_paired(document):
        order = {value: index for index, value in enumerate(document["values"])}
        for cell in sorted(document["results"]["cells"], key=lambda c: order.get(c["point"]["value"], 0)):
            if cell.get("rps_median") is not None:
                found.setdefault(cell["point"]["of"], []).append((cell["point"]["value"], cell))
        return found
    for point in document["points"]:
        for cell in point["results"]["cells"]:
            if cell.get("rps_median") is not None:
                found.setdefault(cell["name"], []).append((point["value"], cell))
    return found


def run_of(document: dict, value: int) -> dict:
    """The results document that measured this value."""
    if is_paired(document):
        return document["results"]
    return next(point["results"] for point in document["points"] if point["value"] == value)


def instance_name(document: dict, cell_name: str, value: int) -> str:
    """A cell's name at one point, as its results document names it."""
    return f"{cell_name} @{document['param']}={value}" if is_paired(document) else cell_name


def point_ratios(document: dict) -> dict[str, dict]:
    """A paired sweep's instance name -> its comparison to its cell's best point (absent for the
    best point itself, and in a sequential sweep)."""
    if not is_paired(document):
        return {}
    return {c["a"]: c for c in document["results"].get("summary", {}).get("comparisons", []) if c["kind"] == "point"}


def failures(document: dict) -> list[str]:
    """Every cell or instance that did not finish, with why."""
    if is_paired(document):
        return [f"{cell['name']}: {cell['status']}: {cell['reason']}" for cell in document["results"]["cells"]
                if cell.get("reason")]
    return [f"{document['param']}={point['value']}: {cell['name']}: {cell['status']}: {cell['reason']}"
            for point in document["points"] for cell in point["results"]["cells"] if cell.get("reason")]


def draw(document: dict) -> dict[str, Figure]:
    """Throughput, p50 and p99 against the parameter; one line per cell, coloured by strategy."""
    lines = series(document)
    if not lines:
        return {}
    drawn = {}
    frameworks = sorted({cell["framework"] for points in lines.values() for _, cell in points})
    loop = "constant rate, open loop" if document["param"] == "rate" else "closed-loop"
    with matplotlib.rc_context(figures.STYLE):
        for name, title, value_of, interval_of, log_y in (
            ("sweep-throughput", "Throughput", lambda c: c["rps_median"], lambda c: c.get("rps_ci95"), False),
            ("sweep-p50", f"Latency p50 ({loop})", lambda c: c["latency_ms"].get("p50"), lambda c: None, True),
            ("sweep-p99", f"Latency p99 ({loop})", lambda c: c["latency_ms"].get("p99"), lambda c: None, True),
        ):
            figure = Figure(figsize=(figures.WIDTH_IN, 4.2), layout="constrained")
            axes = figure.add_subplot()
            plot_points(axes, lines, frameworks, value_of, interval_of)
            axes.set_title(f"{title} against {document['param']}", loc="left")
            axes.set_xlabel(document["param"] + {"db-latency": " (ms added per round trip)",
                                                 "rate": " (requests per second offered)"}.get(document["param"], ""))
            axes.set_ylabel("requests per second" if name == "sweep-throughput" else "milliseconds (log scale)")
            if log_y:
                axes.set_yscale("log")
            else:
                axes.set_ylim(bottom=0)
                axes.yaxis.set_major_formatter(figures.FuncFormatter(lambda value, _: f"{value:,.0f}"))
            finish_axes(figure, axes, document["values"])
            drawn[name] = figure
        if is_paired(document):
            drawn["sweep-ratio"] = draw_ratios(document, lines, frameworks)
    return drawn


def draw_ratios(document: dict, lines: dict[str, list[tuple[int, dict]]], frameworks: list[str]) -> Figure:
    """Each point over its cell's best point, with the paired ratio's interval."""
    ratios = point_ratios(document)
    figure = Figure(figsize=(figures.WIDTH_IN, 4.2), layout="constrained")
    axes = figure.add_subplot()
    plot_points(axes, lines, frameworks, lambda cell: (ratios.get(cell["name"]) or {}).get("ratio") or 1.0,
                lambda cell: (ratios.get(cell["name"]) or {}).get("ci95"))
    axes.axhline(1.0, color="#888888", linewidth=0.8)
    axes.set_title(f"Throughput over the cell's best point, against {document['param']} (paired)", loc="left")
    axes.set_xlabel(document["param"])
    axes.set_ylabel("ratio to the best point [95%]")
    finish_axes(figure, axes, document["values"])
    return figure


def plot_points(axes, lines: dict[str, list[tuple[int, dict]]], frameworks: list[str], y_of, interval_of) -> None:
    """One line per cell (coloured by strategy, marked by framework), each point's interval a whisker."""
    for cell_name, points in lines.items():
        sample, colour = points[0][1], figures.colour_of(points[0][1])
        xs = [value for value, _ in points]
        ys = [y_of(cell) for _, cell in points]
        axes.plot(xs, ys, color=colour, marker=MARKERS[frameworks.index(sample["framework"]) % len(MARKERS)],
                  label=cell_name, linewidth=1.5)
        for x, y, (_, cell) in zip(xs, ys, points, strict=True):
            interval = interval_of(cell)
            if interval:
                figures.whisker_vertical(axes, x, y, interval, colour)


def parameter_axis(axes, values: list[int], label: str | None = None) -> None:
    """The swept parameter on x: log 2 where its values span 8x or more, a tick at each value, and
    the grid; the same in every sweep and lesson figure."""
    if min(values) > 0 and max(values) / min(values) >= 8:
        axes.set_xscale("log", base=2)
    axes.set_xticks(values, [str(v) for v in values])
    if label is not None:
        axes.set_xlabel(label)
    axes.grid(color="#E5E5E5", linewidth=0.8)


def finish_axes(figure: Figure, axes, values: list[int]) -> None:
    """The parameter's axis and the legend below: the same for every sweep figure."""
    parameter_axis(axes, values)
    figures.legend_below(figure, axes.get_legend_handles_labels()[0])


def table_section(document: dict) -> formatting.Section:
    paired_sweep, ratios = is_paired(document), point_ratios(document)
    rows = []
    for cell_name, points in series(document).items():
        for value, cell in points:
            latency = cell.get("latency_ms") or {}
            row = [cell_name, str(value), formatting.fmt_rps(cell["rps_median"]) + formatting.rps_interval(cell)]
            if paired_sweep:
                row.append(formatting.fmt_ratio(ratios[cell["name"]]) if cell["name"] in ratios else "best")
            rows.append([*row, formatting.fmt_percentile(latency, "p50"), formatting.fmt_percentile(latency, "p99"),
                         str(cell.get("pool_size")), " ".join(f"`{flag}`" for flag in cell.get("flags") or [])])
    if paired_sweep:
        before = ("Paired: every point was a warm instance of its cell, measured in the same shuffled rounds as the "
                  "others. The ratio to the cell's best point is a blocked ratio with its 95% interval (drift "
                  "between points cancels); the median RPS beside it has each point's own interval.")
    else:
        before = (f"Sequential ({document['param']} is not paired): each point is a run of its own (median over "
                  "slices [its 95% interval]); points were measured one after the other, so differences between "
                  "points are not paired.")
    header = ["cell", document["param"], "median RPS", *(["ratio to best [95%]"] if paired_sweep else []),
              "p50 ms", "p99 ms", "pool/worker", "flags"]
    left_out = formatting.left_out_percentiles([(f"{cell_name} at {value}", cell) for cell_name, points
                                            in series(document).items() for value, cell in points], ("p50", "p99"))
    return formatting.Section("sweep", f"Every point ({document['param']})", before=[before, *left_out], header=header,
                          rows=rows, items=failures(document))


def write_report(document: dict, directory: Path) -> None:
    """report.html and figures/sweep-*.svg|png beside sweep.json."""
    drawn = figures.guarded("the sweep's figures", lambda: draw(document), {})
    try:
        svgs = figures.write_files(drawn, directory)
        first = runs(document)[0]
        facts = [("Sweep", f"{document['param']} = {', '.join(map(str, document['values']))}; "
                           f"{'complete' if document['complete'] else '**incomplete**'}, from "
                           f"{document['started_at']} to {document['finished_at'] or '—'}"),
                 *[(label, text) for label, text in about.facts(first) if label not in ("Run", "Stopped")]]
        section = table_section(document)
        placed = [(section, [page.figure_html(name, svg, title=f"{name.removeprefix('sweep-')} against "
                                                                   f"{document['param']}",
                                              caption=RATIO_CAPTION if name == "sweep-ratio" else SWEEP_CAPTION)
                             for name, svg in svgs.items()])]
        (directory / "report.html").write_text(page.render_page(f"dbbench sweep: {document['param']}", facts, placed))
    except OSError as exc:
        raise DbbenchError(f"cannot write the sweep's report in {directory}: {exc.strerror or exc}") from None


def render(document: dict) -> str:
    section = table_section(document)
    out = [f"# dbbench sweep: {document['param']} = {', '.join(map(str, document['values']))}", "",
           *section.before, "", formatting.md_table(section.header, section.rows)]
    if section.items:
        out += ["", *[f"- {item}" for item in section.items]]
    return "\n".join(out) + "\n"
