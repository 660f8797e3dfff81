"""Latency as users see it: latency against offered load, and the highest rate that meets an objective.

`dbbench latency` measures, per cell:
1. its closed-loop throughput with wrk (a `run`, as `make bench-db` does);
2. constant-rate steps (oha, open loop) at 25, 50, 75, 90 and 100% of that throughput, each
   step a `run --rate` with a rate per cell, so every figure has the run's rounds, intervals,
   verification and metadata;
3. with `--slo p99=50ms`, the highest rate at which the objective holds: a bisection between
   the highest rate seen to meet it and the lowest seen to miss it, started from the steps,
   each probe again a run. A rate meets the objective when the run held it (98% achieved),
   answered without errors, and the percentile's median over slices is within the bound. A
   percentile the slices hold too few requests for is left out (as in every run), and a rate
   where it is left out neither meets nor misses the objective: the search stays above it.

latency.json keeps every run's results document; the tables, the figure and the SLO
ranking are rendered from it alone. Steps are measured one after another, so comparisons
between steps are unpaired, as in a rate sweep.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path

import matplotlib
from matplotlib.figure import Figure

from runner.base import instants, paths
from runner.base.errors import DbbenchError
from runner.experiments import sweep
from runner.measure.options import RunOptions
from runner.measure.run import Run, err
from runner.report import about, figures, formatting, page, results, stats, tables

SCHEMA_VERSION = 1
STEPS = (25, 50, 75, 90, 100)
SEARCH_PROBES = 4  # bisection runs after the steps; each halves every unresolved cell's bracket
RESOLUTION = 0.05  # a cell's bracket is resolved once it is this narrow, relative to its upper end
DEFAULT_SLICE_S = 5  # at the lowest step (25%), a cell of 800 requests a second has the 1,000 a p99.9 needs
OBJECTIVE = re.compile(r"^p(\d{1,2}(?:\.\d+)?)=(\d+(?:\.\d+)?)(ms|s)$")


@dataclass(frozen=True)
class Objective:
    """A latency objective such as p99=50ms: this percentile of latency within the bound."""

    percentile: str  # "p99", a key of latency_ms
    bound_ms: float

    @classmethod
    def parse(cls, text: str) -> Objective:
        found = OBJECTIVE.match(text.strip().lower())
        if not found:
            raise DbbenchError(f"--slo {text!r}: expected a percentile and a bound such as p99=50ms or p99.9=0.2s")
        percentile = f"p{float(found[1]):g}"
        if percentile not in ("p50", "p75", "p90", "p99", "p99.9"):
            raise DbbenchError(f"--slo {text!r}: the percentile is one of p50, p75, p90, p99, p99.9")
        bound = float(found[2]) * (1000 if found[3] == "s" else 1)
        if bound <= 0:
            raise DbbenchError(f"--slo {text!r}: the bound must be above 0")
        return cls(percentile, bound)

    @property
    def text(self) -> str:
        return f"{self.percentile} ≤ {self.bound_ms:g} ms"

    def verdict(self, cell: dict) -> str:
        """met, missed, or why the rate tells nothing (not held, errors, client-bound, not measured,
        unresolved: too few requests a slice for the percentile)."""
        found = cell.get("open_loop")
        if cell["status"] != "ok" or not found:
            return "not measured"
        if "client-bound" in (cell.get("flags") or []):
            return "client-bound"
        if not found["held"]:
            return "missed (rate not held)"
        if "errors" in (cell.get("flags") or []):
            return "missed (errors)"
        if self.percentile not in found["latency_ms"]:
            return "unresolved"
        return "met" if found["latency_ms"][self.percentile]["median"] <= self.bound_ms else "missed"


@dataclass
class Bisection:
    """Between the highest rate seen to meet the objective and the lowest seen to miss it."""

    met: float = 0.0
    missed: float | None = None
    blocked: str | None = None  # client-bound or not measured: the search stops for this cell
    unresolved: float = 0.0  # the highest rate whose slices were too short for the percentile

    def record(self, rate: float, verdict: str) -> None:
        if verdict in ("client-bound", "not measured"):
            self.blocked = self.blocked or verdict
        elif verdict == "unresolved":
            self.unresolved = max(self.unresolved, rate)
        elif verdict == "met":
            self.met = max(self.met, rate)
        elif self.missed is None or rate < self.missed:
            self.missed = rate

    def next_rate(self) -> float | None:
        """The middle of the bracket, or None when resolved, blocked, or never missed. The
        bracket starts above any rate whose slices were too short for the percentile: a lower
        rate has fewer requests a slice, and would be unresolved as well."""
        low = max(self.met, self.unresolved)
        if self.blocked or self.missed is None or self.missed - low <= RESOLUTION * self.missed:
            return None
        return round((low + self.missed) / 2, 1)


def parse_steps(text: str) -> list[int]:
    try:
        steps = sorted({int(value) for value in text.split(",") if value.strip()})
    except ValueError:
        raise DbbenchError(f"--steps {text!r}: percentages of the closed-loop throughput, such as 25,50,100") from None
    if not steps or steps[0] < 1 or steps[-1] > 200:
        raise DbbenchError(f"--steps {text!r}: each step is 1 to 200 (% of the closed-loop throughput)")
    return steps


def measure(options: RunOptions, steps: list[int], objective: Objective | None, probes: int = SEARCH_PROBES,
            out: Path | None = None) -> tuple[Path, dict]:
    """The closed-loop run, the steps, then the search; latency.json after every run."""
    options = dataclasses.replace(options, slice_s=options.slice_s or (None if options.quick else DEFAULT_SLICE_S))
    directory = results.new_run_dir((out or options.out or paths.REPO / "results") / "latency")
    path = directory / "latency.json"
    document = {"kind": "latency", "schema_version": SCHEMA_VERSION, "complete": False, "steps": steps,
                "objective": dataclasses.asdict(objective) if objective else None, "started_at": instants.utc_now(),
                "finished_at": None, "closed_loop": None, "points": [], "search": []}

    def run(role: str, rates: dict[str, float] | None, **extra) -> dict | None:
        """One run; its results document is kept in latency.json even when it stopped early."""
        runner = Run(dataclasses.replace(options, out=directory / "runs", rates=rates))
        try:
            runner.execute()
        finally:
            found = results.load(runner.results_path) if runner.results_path.exists() else None
            if found is not None:
                if role == "closed_loop":
                    document["closed_loop"] = found
                else:
                    document[role].append({**extra, "results": found})
                results.write_json(document, path)
        return found

    try:
        total = 1 + len(steps) + (probes if objective else 0)
        err.print(f"latency: run 1 of up to {total}: each cell's closed-loop peak (wrk)")
        closed = run("closed_loop", None)
        peaks = {c["name"]: c["rps_median"] for c in closed["cells"] if c["status"] == "ok" and c.get("rps_median")}
        if not peaks:
            raise DbbenchError(f"no cell has a closed-loop throughput to set rates from: see {path}")
        for number, percent in enumerate(steps, start=2):
            err.print(f"latency: run {number} of up to {total}: {percent}% of each cell's peak, at a constant rate")
            run("points", {name: round(peak * percent / 100, 1) for name, peak in peaks.items()}, percent=percent)
        if objective:
            searches = bisections(document, objective)
            for probe in range(1, probes + 1):
                rates = {name: rate for name, search in searches.items() if (rate := search.next_rate()) is not None}
                if not rates:
                    break
                err.print(f"latency: run {1 + len(steps) + probe} of up to {total}: {objective.text}, probe {probe}: "
                          + ", ".join(f"{name} at {rate:,.0f}/s" for name, rate in rates.items()))
                found = run("search", rates, probe=probe)
                for cell in (found or {}).get("cells", []):
                    if cell["name"] in rates:
                        searches[cell["name"]].record(rates[cell["name"]], objective.verdict(cell))
        document["complete"] = True
    finally:
        document["finished_at"] = instants.utc_now()
        results.write_json(document, path)
        if document["closed_loop"] is not None:
            write_report(document, directory)
    return path, document


def objective_of(document: dict) -> Objective | None:
    found = document.get("objective")
    return Objective(**found) if found else None


def measured_points(document: dict) -> list[tuple[str, dict, dict]]:
    """(role, entry, cell) for every constant-rate cell measured: the steps, then the search."""
    return [(role, entry, cell) for role in ("points", "search") for entry in document[role]
            for cell in entry["results"]["cells"] if cell.get("rate_target") is not None]


def bisections(document: dict, objective: Objective) -> dict[str, Bisection]:
    """Each cell's bracket from every rate measured so far."""
    found: dict[str, Bisection] = {}
    for _, _, cell in measured_points(document):
        found.setdefault(cell["name"], Bisection()).record(cell["rate_target"], objective.verdict(cell))
    return found


def peaks_of(document: dict) -> dict[str, dict]:
    return {c["name"]: c for c in (document.get("closed_loop") or {}).get("cells", [])}


def slo_rows(document: dict) -> list[dict]:
    """Per cell: the highest rate that met the objective, its bracket, and its peak beside it."""
    objective = objective_of(document)
    if objective is None:
        return []
    peaks = peaks_of(document)
    rows = []
    for name, search in bisections(document, objective).items():
        peak = peaks.get(name) or {}
        met_cell = next((cell for _, _, cell in measured_points(document)
                         if cell["name"] == name and cell["rate_target"] == search.met), None)
        rows.append({"name": name, "slo_rps": search.met if not search.blocked else None, "missed_at": search.missed,
                     "blocked": search.blocked, "unresolved": search.unresolved or None,
                     "peak_rps": peak.get("rps_median"), "peak_rank": peak.get("rank"),
                     "at_slo": (met_cell or {}).get("open_loop")})
    rows.sort(key=lambda row: -(row["slo_rps"] or 0))
    for position, row in enumerate(rows, start=1):
        row["slo_rank"] = position if row["slo_rps"] else None
    return rows


def step_section(document: dict) -> formatting.Section:
    objective = objective_of(document)
    rows = []
    for entry in document["points"]:
        for cell in entry["results"]["cells"]:
            found = cell.get("open_loop")
            if not found:
                rows.append([cell["name"], f"{entry['percent']}%", "—", "—", cell.get("reason") or cell["status"],
                             "—", "—", "—", "—", "—"])
                continue
            rows.append([cell["name"], f"{entry['percent']}%", f"{found['target_rps']:,.0f}",
                         f"{found['achieved_rps']:,.0f}", "held" if found["held"] else "**not held**",
                         *tables.open_loop_latencies(cell),
                         objective.verdict(cell) if objective else " ".join(cell.get("flags") or []) or "—"])
    rows.sort(key=lambda row: (row[0], int(row[1].rstrip("%"))))
    return formatting.Section("latency-steps", "Latency against offered load", before=[
        "Each step offers a constant rate, a share of the cell's own closed-loop throughput (wrk), for the run's "
        "slices; latency runs from each request's intended send time. Percentiles: median over slices [that "
        f"median's 95% interval, given from {stats.MEDIAN_MIN_SLICES} slices on]. `not held`: the cell "
        "achieved less than 98% of the rate in some slice, so its latencies are those of an overloaded server. At "
        "100% of the closed-loop peak a queue has no time to drain: expect the tail to grow without bound there."],
        header=["cell", "of peak", "offered RPS", "achieved RPS", "rate", "p50 ms", "p90 ms", "p99 ms", "p99.9 ms",
                objective.text if objective else "flags"], rows=rows)


def slo_section(document: dict) -> formatting.Section | None:
    objective = objective_of(document)
    if objective is None:
        return None
    rows = []
    for row in slo_rows(document):
        at = row["at_slo"] or {}
        value = at.get("latency_ms", {}).get(objective.percentile)
        if row["blocked"]:
            shown = row["blocked"]
        elif not row["slo_rps"]:
            why = [f"missed at {row['missed_at']:,.0f}"] if row["missed_at"] else []
            if row["unresolved"]:
                why.append(f"{objective.percentile} unresolved up to {row['unresolved']:,.0f}: "
                           "too few requests a slice")
            shown = f"none measured ({'; '.join(why)})" if why else "—"
        else:
            shown = f"{row['slo_rps']:,.0f}"
        if row["blocked"]:
            bracket = "—"
        elif not row["missed_at"]:
            bracket = "not missed up to the highest step"
        elif row["slo_rps"]:
            bracket = f"{row['slo_rps']:,.0f} – {row['missed_at']:,.0f}"
        else:  # no rate met it: the bracket's floor was not measured, and no 0 stands in for it
            bracket = f"below {row['missed_at']:,.0f}"
        rows.append([str(row["slo_rank"] or "—"), row["name"], shown, bracket,
                     formatting.fmt_latency(value) if value else "—",
                     formatting.fmt_rps(row["peak_rps"]), str(row["peak_rank"] or "—")])
    return formatting.Section("slo", f"Highest throughput that meets {objective.text}", before=[
        f"The highest constant rate measured to meet {objective.text} (held, no errors, the percentile's median "
        "over slices within the bound), found by bisection between the highest rate that met it and the lowest "
        "that missed it; the bracket is where the true limit lies. A rate whose slices hold too few requests "
        "for the percentile (a p99.9 needs 1,000 a slice) neither meets nor misses it. Beside it, the closed-loop "
        "peak and its rank (wrk, blocked ratios). When the two orders differ, the cell with the higher peak pays "
        "for it in its tail."],
        header=["SLO rank", "cell", "RPS meeting it", "bracket", f"{objective.percentile} ms there", "peak RPS",
                "peak rank"], rows=rows)


def series(document: dict) -> dict[str, list[dict]]:
    """Each cell's constant-rate records, by offered rate; a client-bound one measured oha, and is left out."""
    found: dict[str, list[dict]] = {}
    for _, _, cell in measured_points(document):
        if cell.get("open_loop") and "client-bound" not in (cell.get("flags") or []):
            found.setdefault(cell["name"], []).append(cell)
    return {name: sorted(cells, key=lambda c: c["rate_target"]) for name, cells in found.items()}


def draw(document: dict) -> dict[str, Figure]:
    """Latency (p50 and p99) against offered load, one line and colour per cell (Okabe & Ito's
    palette), log latency axis; a
    hollow marker where the rate was not held; the objective as a dashed line."""
    lines = series(document)
    if not lines:
        return {}
    objective = objective_of(document)
    frameworks = sorted({cells[0]["framework"] for cells in lines.values()})
    with matplotlib.rc_context(figures.STYLE):
        figure = Figure(figsize=(figures.WIDTH_IN, 6.4), layout="constrained")
        panels = figure.subplots(2, 1, sharex=True)
        for axes, key in zip(panels, ("p50", "p99"), strict=True):
            for index, (name, every) in enumerate(lines.items()):
                colour = figures.CELL_COLOURS[index % len(figures.CELL_COLOURS)]
                marker = sweep.MARKERS[frameworks.index(every[0]["framework"]) % len(sweep.MARKERS)]
                cells = [c for c in every if key in c["open_loop"]["latency_ms"]]  # too few requests: left out
                xs = [c["rate_target"] for c in cells]
                ys = [c["open_loop"]["latency_ms"][key]["median"] for c in cells]
                axes.plot(xs, ys, color=colour, linewidth=1.5, marker=marker, markersize=6, label=name)
                for x, y, cell in zip(xs, ys, cells, strict=True):
                    axes.plot(x, y, marker=marker, color=colour, markersize=6,
                              markerfacecolor=colour if cell["open_loop"]["held"] else "white")
                    interval = cell["open_loop"]["latency_ms"][key]["ci95"]
                    if interval:
                        figures.whisker_vertical(axes, x, y, [max(interval[0], y / 10), interval[1]], colour)
            if objective and objective.percentile == key:
                axes.axhline(objective.bound_ms, color="#B00020", linestyle="--", linewidth=1)
                axes.text(axes.get_xlim()[0], objective.bound_ms, f" objective {objective.text}", va="bottom",
                          fontsize=8, color="#B00020")
            axes.set_yscale("log")
            axes.set_xscale("log")
            axes.set_ylabel(f"{key} ms (log scale)")
            axes.set_title(f"Latency {key} against offered load (constant rate, from intended send times)",
                           loc="left")
            axes.xaxis.set_major_formatter(figures.FuncFormatter(lambda value, _: f"{value:,.0f}"))
            axes.grid(color="#E5E5E5", linewidth=0.8)
        panels[-1].set_xlabel("offered requests per second (log scale); hollow marker: rate not held")
        figures.legend_below(figure, panels[0].get_legend_handles_labels()[0])
    return {"latency-load": figure}


CAPTION = ("One line and colour per cell, a marker per framework; whiskers are each point's 95% "
           "interval; a hollow marker is a rate the cell could not hold.")


def write_report(document: dict, directory: Path) -> None:
    """report.html, latency.md and figures/latency-load.svg|png beside latency.json."""
    drawn = figures.guarded("the latency figure", lambda: draw(document), {})
    try:
        svgs = figures.write_files(drawn, directory)
        closed = document["closed_loop"]
        facts = [("Latency", f"steps at {', '.join(f'{s}%' for s in document['steps'])} of each cell's closed-loop "
                             f"throughput; {'complete' if document['complete'] else '**incomplete**'}, from "
                             f"{document['started_at']} to {document['finished_at'] or '—'}"),
                 *[(label, text) for label, text in about.facts(closed) if label not in ("Run", "Stopped", "Load")]]
        if document["points"]:
            facts.append(("Load", about.load_text(document["points"][0]["results"])))
        placed = [(section, [page.figure_html(name, svg, title="latency against offered load", caption=CAPTION)
                             for name, svg in svgs.items()] if section.key == "latency-steps" else [])
                  for section in sections(document)]
        (directory / "report.html").write_text(page.render_page("dbbench latency", facts, placed))
        (directory / "latency.md").write_text(render(document))
    except OSError as exc:
        raise DbbenchError(f"cannot write the latency report in {directory}: {exc.strerror or exc}") from None


def sections(document: dict) -> list[formatting.Section]:
    closed = tables.ranking_section(document["closed_loop"]) if document.get("closed_loop") else None
    found = [step_section(document), slo_section(document), closed]
    return [section for section in found if section is not None]


def render(document: dict) -> str:
    out = [f"# dbbench latency: steps at {', '.join(f'{s}%' for s in document['steps'])} of the closed-loop peak"]
    for section in sections(document):
        out += ["", f"## {section.title}", *[f"\n{text}" for text in section.before], "",
                formatting.md_table(section.header, section.rows)]
    return "\n".join(out) + "\n"
