"""The lesson "one event loop is one core": how fast a single-process async server goes, and what
sets the bound."""

from __future__ import annotations

from matplotlib.figure import Figure
from scipy import stats as scipy_stats

from runner.lessons.claims import Claim, Shown, unreadable
from runner.lessons.engine import Lesson, run_experiment
from runner.lessons.toolkit import fmt_estimate, per_slice, placeholder_of
from runner.measure.options import RunOptions
from runner.report import figures, formatting, results, stats


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
        measured = results.estimate_of(cell)
        cores = cell["cpu_cores"]["server"]
        key = placeholder_of(cell["name"])
        numbers.update({f"{key}_us": fmt_estimate(cost), f"{key}_bound": fmt_estimate(bound),
                        f"{key}_rps": fmt_estimate(measured), f"{key}_cores": f"{cores:.2f}",
                        f"{key}_share": f"{measured.median / bound.median:.0%}"})
        rows.append([cell["name"], numbers[f"{key}_us"], numbers[f"{key}_bound"], numbers[f"{key}_rps"],
                     numbers[f"{key}_share"], numbers[f"{key}_cores"]])
    numbers["table"] = formatting.md_table(["cell", "server CPU µs per request [95%]", "bound 10⁶ / µs, RPS [95%]",
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


ONE_CORE = 1.05  # one event loop's core, with the measurement's own slack
BUSY = 0.85  # a loop this busy is at its bound: what is left is waiting it cannot fill
RANKED = 0.8  # Spearman's rho between throughput and 1 / CPU per request that "to first order" means


def python_cells(document: dict) -> list[dict]:
    return [cell for cell in document["cells"] if cell.get("clean") and not cell.get("reference")
            and cell.get("workers", 1) == 1 and per_slice(cell, "server")]


def readable_python_cells(document: dict, fewest: int = 1) -> tuple[list[dict], str | None]:
    """The cells a claim reads, or why it cannot read them: too few, or too disturbed."""
    cells = python_cells(document)
    if len(cells) < fewest:
        return cells, (f"{len(cells)} Python cells: too few to rank" if fewest > 1
                       else "no single-process Python cell was measured cleanly")
    return cells, unreadable(*cells)


def one_loop_one_core(document: dict, numbers: dict) -> Shown:
    cells, reason = readable_python_cells(document)
    if reason:
        return Shown(False, reason)
    most = max(cells, key=lambda cell: cell["cpu_cores"]["server"])
    return Shown(most["cpu_cores"]["server"] <= ONE_CORE,
                 f"the most any used was {most['cpu_cores']['server']:.2f}, {most['name']}'s")


def loops_were_busy(document: dict, numbers: dict) -> Shown:
    cells, reason = readable_python_cells(document)
    if reason:
        return Shown(False, reason)
    least = min(cells, key=lambda cell: cell["cpu_cores"]["server"])
    return Shown(least["cpu_cores"]["server"] >= BUSY,
                 f"the least any used was {least['cpu_cores']['server']:.2f} cores, {least['name']}'s")


def ranked_by_cpu(document: dict, numbers: dict) -> Shown:
    cells, reason = readable_python_cells(document, fewest=3)
    if reason:
        return Shown(False, reason)
    rho = scipy_stats.spearmanr([cell["rps_median"] for cell in cells],
                                [1 / per_slice(cell, "server").median for cell in cells]).statistic
    return Shown(rho >= RANKED, f"Spearman's rank correlation of throughput with 1 / CPU per request over "
                                f"{len(cells)} Python cells: {rho:.2f}")


LESSON = Lesson(
    "event-loop", "How fast can a single-process async server go, and what sets the bound?",
    run_experiment(RunOptions(budget_s=240)), event_loop_numbers, event_loop_figure,
    claims=(
        Claim("one_core", "that no single-process Python server used more than one core",
              "No single-process Python server used more than one core (5% allowed for the measurement's "
              "slack): $why.", one_loop_one_core),
        Claim("busy", "that every single-process Python server kept its core busy",
              "Every single-process Python server kept its core busy, so each ran near its bound: $why.",
              loops_were_busy),
        Claim("ranking", "that the Python cells rank, to first order, by their CPU per request",
              "So the ranking of the Python cells is, to first order, the ranking of their CPU per request: "
              "$why.", ranked_by_cpu),
    ),
    answer="one_core", read_first=())
