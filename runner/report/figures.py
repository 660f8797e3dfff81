"""The report's figures, drawn with matplotlib from a stored results document.

Drawn from results.json alone (collect first, render later). Every per-cell figure lists the
cells in the same order, grouped by framework, with one colour per data-access strategy in
every figure; a cell that failed or has nothing to draw keeps its row and says why. SVG keeps
its text as text (searchable, sharp in print); PNG is for slides and READMEs.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import matplotlib
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from runner.base.console import err
from runner.report import formatting, results, stats, tables

# Okabe & Ito's palette: told apart with any colour vision, and in grey print.
STRATEGY_COLOURS = {"raw": "#0072B2", "orm": "#E69F00", "baked": "#009E73", "core": "#CC79A7"}
OTHER_COLOUR = "#777777"
# One colour per cell where a figure draws a line per cell: the same palette, in order.
CELL_COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9", "#000000", "#F0E442")
FAILED_COLOUR = "#B00020"
PARTY_COLOURS = {"server": "#333333", "postgres": "#56B4E9", "wrk": "#C8C8C8", "oha": "#C8C8C8",
                 "proxy": "#F0E442"}
PARTY_TITLES = {"server": "server", "postgres": "PostgreSQL", "wrk": "wrk (load generator)",
                "oha": "oha (load generator)", "proxy": "toxiproxy (added network)"}
PERCENTILE_MARKERS = {"p50": "o", "p75": "s", "p90": "^", "p99": "D", "p99.9": "X"}
STYLE = {
    "svg.fonttype": "none", "font.family": "sans-serif", "font.size": 9, "axes.titlesize": 10,
    "axes.spines.top": False, "axes.spines.right": False, "hatch.linewidth": 1.5,
    "svg.hashsalt": "dbbench",  # the same ids every time: a figure rendered again is the same file
}
T = TypeVar("T")
WIDTH_IN = 8.5
ROW_IN = 0.3
FRAMEWORK_GAP = 0.6
FORMATS = ("svg", "png")


@dataclass(frozen=True)
class Row:
    cell: dict
    y: float


def colour_of(cell: dict) -> str:
    return STRATEGY_COLOURS.get(cell.get("strategy") or "", OTHER_COLOUR)


def ordered_cells(cells: list[dict]) -> list[dict]:
    """Frameworks as the matrix lists them (the reference last), variants by strategy."""
    variants = tables.variant_columns(cells)
    return [cell for framework in tables.framework_rows(cells) for variant in variants
            for cell in cells if cell["framework"] == framework and cell["variant"] == variant]


def rows_of(cells: list[dict]) -> list[Row]:
    rows: list[Row] = []
    y = 0.0
    for cell in ordered_cells(cells):
        if rows and rows[-1].cell["framework"] != cell["framework"]:
            y += FRAMEWORK_GAP
        rows.append(Row(cell, y))
        y += 1
    return rows


def short(text: str, limit: int = 70) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def label(cell: dict) -> str:
    return formatting.cell_name(cell) + (" (reference)" if cell.get("reference") else "")


def per_cell_axes(rows: list[Row], title: str, xlabel: str):
    """A figure with one horizontal row per cell, labelled and coloured by strategy."""
    span = rows[-1].y + 1 if rows else 1
    figure = Figure(figsize=(WIDTH_IN, 1.3 + ROW_IN * span), layout="constrained")
    axes = figure.add_subplot()
    axes.set_yticks([row.y for row in rows], [label(row.cell) for row in rows])
    for tick, row in zip(axes.get_yticklabels(), rows, strict=True):
        tick.set_color(colour_of(row.cell))
    axes.set_ylim(span - 0.4, -0.6)
    axes.set_title(title, loc="left")
    axes.set_xlabel(xlabel)
    axes.grid(axis="x", color="#E5E5E5", linewidth=0.8)
    axes.set_axisbelow(True)
    return figure, axes


def legend_below(figure: Figure, handles: list) -> None:
    figure.legend(handles=handles, loc="outside lower center", ncols=len(handles), fontsize=8, frameon=False)


def strategy_legend(figure: Figure, cells: list[dict], reference: bool) -> None:
    present = [s for s in tables.STRATEGY_ORDER if any(c.get("strategy") == s for c in cells)]
    handles = [Patch(color=STRATEGY_COLOURS[s], label=tables.STRATEGY_TITLES[s]) for s in present]
    if reference:
        handles.append(Patch(facecolor=STRATEGY_COLOURS["raw"], edgecolor="white", hatch="///",
                             label="reference (Go)"))
    legend_below(figure, handles)


def whisker(axes, y: float, value: float, interval: list[float] | None) -> None:
    if interval:
        axes.errorbar(value, y, xerr=[[value - interval[0]], [interval[1] - value]], fmt="none",
                      ecolor="black", elinewidth=1, capsize=3)


def whisker_vertical(axes, x: float, value: float, interval: list[float], colour: str) -> None:
    axes.errorbar(x, value, yerr=[[value - interval[0]], [interval[1] - value]], fmt="none", ecolor=colour,
                  elinewidth=1, capsize=3)


def missing_note(axes, row: Row, text: str, x: float = 0.0) -> None:
    axes.text(x, row.y, "  " + short(text), va="center", ha="left", fontsize=8, color=FAILED_COLOUR)


def why_not_ranked(cell: dict) -> str:
    if cell["status"] != "ok":
        return f"{cell['status']}: {cell.get('reason') or 'no reason recorded'}"
    if not cell.get("slices_used"):
        return "not measured: no slices"
    return "not ranked: " + (", ".join(cell.get("flags") or []) or "no interval")


# ----------------------------------------------------------------- the figures


def throughput(document: dict) -> Figure | None:
    """1. Each cell's median RPS with its 95% interval, the reference hatched."""
    cells = document["cells"]
    rows = rows_of(cells)
    if not rows or results.is_open_loop(document):  # its throughput is the rate it was given
        return None
    run = document["metadata"]["run"]
    figure, axes = per_cell_axes(rows, f"Throughput by cell: {run['scenario']}, {run['connections']} connections",
                                 "requests per second (median over slices, whisker: 95% interval)")
    reach = max([c["rps_ci95"][1] if c.get("rps_ci95") else c.get("rps_median") or 0 for c in cells] + [1])
    shared = [c["rank"] for c in cells if c.get("rank")]
    for row in rows:
        cell = row.cell
        median = cell.get("rps_median")
        if cell["status"] != "ok" or median is None:
            missing_note(axes, row, why_not_ranked(cell))
            continue
        axes.barh(row.y, median, height=0.7, color=colour_of(cell), alpha=1 if cell.get("rank") else 0.45,
                  hatch="///" if cell.get("reference") else None, edgecolor="white", linewidth=0)
        whisker(axes, row.y, median, cell.get("rps_ci95"))
        end = cell["rps_ci95"][1] if cell.get("rps_ci95") else median
        rank = f"#{cell['rank']}{'=' if shared.count(cell['rank']) > 1 else ''}" if cell.get("rank") else ""
        note = f"{rank}  {median:,.0f}" if rank else f"{median:,.0f}  {why_not_ranked(cell)}"
        axes.text(end + reach * 0.01, row.y, note, va="center", fontsize=8)
    axes.set_xlim(0, reach * 1.25)
    axes.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:,.0f}"))
    strategy_legend(figure, cells, any(c.get("reference") for c in cells))
    return figure


def orm_tax(document: dict) -> Figure | None:
    """2. Each variant's throughput as a share of its framework's raw variant, a line at 1."""
    cells = document["cells"]
    with_raw = {c["framework"] for c in cells if c["variant"] == "raw"}
    rows = rows_of([c for c in cells if c["variant"] != "raw" and c["framework"] in with_raw])
    if not rows:
        return None
    taxes = formatting.comparisons_of(document, "orm-tax")
    figure, axes = per_cell_axes(rows, f"ORM tax: share of the same framework's raw variant "
                                       f"({document['metadata']['run']['scenario']})",
                                 "throughput / raw throughput (blocked ratio, whisker: 95% interval)")
    highest = 1.0
    for row in rows:
        found = taxes.get(formatting.cell_name(row.cell))
        if not found or found.get("ratio") is None:
            missing_note(axes, row, "not compared: " + why_not_ranked(row.cell).removeprefix("not ranked: "))
            continue
        ratio, interval = found["ratio"], found.get("ci95")
        axes.barh(row.y, ratio, height=0.7, color=colour_of(row.cell), linewidth=0)
        whisker(axes, row.y, ratio, interval)
        end = interval[1] if interval else ratio
        highest = max(highest, end)
        axes.text(end + 0.02, row.y, f"{ratio:.2f}" + (" (tie)" if found.get("tie") else ""), va="center", fontsize=8)
    axes.axvline(1.0, color="black", linewidth=1, linestyle="--")
    axes.set_xlim(0, highest * 1.15)
    strategy_legend(figure, [row.cell for row in rows], reference=False)
    return figure


def cpu(document: dict) -> Figure | None:
    """3. CPU microseconds per request by server, PostgreSQL and wrk, stacked."""
    cells = document["cells"]
    if not any(any((c.get("cpu_us_per_request") or {}).values()) for c in cells):
        return None
    rows = rows_of(cells)
    parties = tables.parties_of(cells)
    figure, axes = per_cell_axes(rows, "Where a request's time goes: CPU per request",
                                 "CPU microseconds per completed request")
    totals = [sum(v for v in (c.get("cpu_us_per_request") or {}).values() if v) for c in cells]
    reach = max(totals + [1])
    for row in rows:
        per_request = row.cell.get("cpu_us_per_request") or {}
        if not any(per_request.values()):
            missing_note(axes, row, why_not_ranked(row.cell))
            continue
        left = 0.0
        for party in parties:
            value = per_request.get(party)
            if value is None:
                continue
            axes.barh(row.y, value, left=left, height=0.7, color=PARTY_COLOURS[party], linewidth=0)
            left += value
        postgres = per_request.get("postgres")
        note = f"{left:,.0f} µs (PostgreSQL {postgres:,.0f})" if postgres is not None else \
            f"{left:,.0f} µs (PostgreSQL not measured)"
        axes.text(left + reach * 0.01, row.y, note, va="center", fontsize=8)
    axes.set_xlim(0, reach * 1.35)
    titles = {**PARTY_TITLES, "proxy": f"{stats.between_title(document['metadata']['run'])} (between the cells and "
                                       "PostgreSQL)"}
    legend_below(figure, [Patch(color=PARTY_COLOURS[p], label=titles[p]) for p in parties])
    return figure


def latency(document: dict) -> Figure | None:
    """4. Latency percentiles per cell on a log axis: closed-loop service times."""
    cells = document["cells"]
    if not any(c.get("latency_ms") for c in cells):
        return None
    rows = rows_of(cells)
    title = ("Latency percentiles at a constant rate (oha), from each request's intended send time"
             if results.is_open_loop(document) else
             "Latency percentiles, closed-loop (wrk): they understate the tail at saturation")
    figure, axes = per_cell_axes(rows, title, "milliseconds (log scale), median of the slices' percentiles")
    axes.set_xscale("log")
    axes.xaxis.set_major_locator(LogLocator(subs=(1, 2, 5)))
    axes.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    axes.xaxis.set_minor_formatter(NullFormatter())
    for row in rows:
        found = row.cell.get("latency_ms") or {}
        points = [(found[p], marker) for p, marker in PERCENTILE_MARKERS.items() if found.get(p)]
        if not points:
            missing_note(axes, row, why_not_ranked(row.cell), x=found.get("p50") or 1.0)
            continue
        colour = colour_of(row.cell)
        axes.plot([points[0][0], points[-1][0]], [row.y, row.y], color=colour, linewidth=1.5)
        for value, marker in points:
            axes.plot(value, row.y, marker=marker, color=colour, markersize=6, markeredgecolor="white")
    legend_below(figure, [Line2D([], [], marker=m, color="black", linestyle="none", label=p)
                          for p, m in PERCENTILE_MARKERS.items()])
    return figure


def slice_times(cells: list[dict]) -> tuple[dict[int, float], str]:
    """Each slice's place in time: seconds from the run's start where stored, else its order."""
    pieces = [piece for cell in cells for piece in cell["slices"]]
    if pieces and all("started_s" in piece for piece in pieces):
        return {id(piece): piece["started_s"] for piece in pieces}, "seconds from the run's start"
    order = sorted(pieces, key=lambda s: (s["group"], s["round"], s.get("position", 0), s.get("repeat", False)))
    return {id(piece): float(index) for index, piece in enumerate(order, start=1)}, "slice, in the run's order"


def stability(document: dict) -> Figure | None:
    """5. Every slice of every cell over time: the noise and drift the intervals summarize."""
    cells = [c for c in ordered_cells(document["cells"]) if c["slices"]]
    if not cells:
        return None
    when, xlabel = slice_times(cells)
    figure = Figure(figsize=(WIDTH_IN, 1.2 + 0.6 * len(cells)), layout="constrained")
    grid = figure.subplots(len(cells), 1, sharex=True, squeeze=False)[:, 0]
    figure.suptitle("Stability: every slice's RPS over the run\n(filled: used by the figures; hollow: "
                    "disturbed and measured again, or PostgreSQL down)", x=0.01, ha="left", fontsize=10)
    for axes, cell in zip(grid, cells, strict=True):
        used = {id(piece) for piece in results.used_slices(cell)}
        colour = colour_of(cell)
        for piece in cell["slices"]:
            kept = id(piece) in used
            axes.plot(when[id(piece)], piece["rps"], marker="o", markersize=4, linestyle="none",
                      color=colour if kept else "none", markeredgecolor=colour)
        if cell.get("rps_ci95"):
            axes.axhspan(*cell["rps_ci95"], color=colour, alpha=0.12, linewidth=0)
        if cell.get("rps_median"):
            axes.axhline(cell["rps_median"], color=colour, linewidth=0.8, linestyle="--")
        axes.set_ylabel(label(cell), rotation=0, ha="right", va="center", fontsize=8, color=colour)
        axes.tick_params(axis="y", labelsize=7)
        axes.margins(y=0.25)
    grid[-1].set_xlabel(xlabel + "; dashed: median, band: 95% interval")
    return figure


FIGURES: dict[str, tuple[str, Callable[[dict], Figure | None]]] = {
    "throughput": ("Throughput by cell", throughput),
    "orm-tax": ("ORM tax", orm_tax),
    "cpu": ("Where a request's time goes", cpu),
    "latency": ("Latency percentiles (closed-loop)", latency),
    "stability": ("Stability over the run", stability),
}


def guarded(what: str, make: Callable[[], T], fallback: T) -> T:
    """A figure is never worth the results it is drawn from: one that cannot be drawn from
    this data (or encoded) is left out with a one-line note saying which and why."""
    try:
        return make()
    except Exception as exc:  # whatever matplotlib raises on odd data, the run's results stand
        err.print(f"dbbench: warning: {what} not drawn: {type(exc).__name__}: {short(str(exc), 160)}")
        return fallback


def draw(document: dict) -> dict[str, Figure]:
    """The figures this run has something to show in, by name, in the report's order."""
    with matplotlib.rc_context(STYLE):
        drawn = {name: guarded(f"figure {name}", lambda make=make: make(document), None)
                 for name, (_, make) in FIGURES.items()}
    return {name: figure for name, figure in drawn.items() if figure is not None}


def encoded(drawn: dict[str, Figure], fmt: str) -> dict[str, bytes]:
    """Each figure as SVG or PNG bytes; one that cannot be encoded is left out, with a note."""
    found = {name: guarded(f"figure {name} ({fmt})", lambda figure=figure: encode(figure, fmt), None)
             for name, figure in drawn.items()}
    return {name: content for name, content in found.items() if content is not None}


def write_files(drawn: dict[str, Figure], directory) -> dict[str, str]:
    """directory/figures/<name>.svg and .png; returns the SVG texts, for a page to inline."""
    svgs = {name: svg.decode() for name, svg in encoded(drawn, "svg").items()}
    (directory / "figures").mkdir(parents=True, exist_ok=True)
    for name, svg in svgs.items():
        (directory / "figures" / f"{name}.svg").write_text(svg)
    for name, png in encoded(drawn, "png").items():
        (directory / "figures" / f"{name}.png").write_bytes(png)
    return svgs


def encode(figure: Figure, fmt: str) -> bytes:
    """SVG or PNG bytes; no date or software URL in the file, so a figure renders the same again."""
    buffer = io.BytesIO()
    metadata = {"Date": None, "Creator": "dbbench"} if fmt == "svg" else {"Software": "dbbench"}
    with matplotlib.rc_context(STYLE):
        figure.savefig(buffer, format=fmt, dpi=150, metadata=metadata)
    return buffer.getvalue()
