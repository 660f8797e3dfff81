"""The lesson "how big should the pool be": at least the connections, or small."""

from __future__ import annotations

from matplotlib.figure import Figure

from runner.experiments import sweep, tune
from runner.lessons.claims import Claim, Shown, unreadable
from runner.lessons.engine import Lesson, LessonSweep, several_sweeps
from runner.lessons.toolkit import (
    below_best,
    fmt_estimate,
    paired_ratios,
    placeholder_of,
    ratio_panel,
    round_trips,
    share_text,
    verdict,
    widest,
)
from runner.measure.options import RunOptions
from runner.report import figures, formatting, results

HIKARI_POOL = 5  # HikariCP's "About Pool Sizing": cores x 2 + spindles, for this machine's 2 cores and 1 disk
POOL_VALUES = [2, HIKARI_POOL, 16, 72]  # 72: the rule's pool at 64 connections (64 + 12.5%)
# Per sweep: about 34 rounds of the 8 instances, for ratios within about ±10% on a day when
# 200 s (11 rounds, the scenario's 6 s warm-up each) gave ±11-16%; three sweeps, about 22 minutes.
POOL_BUDGET_S = 420
# Loopback without toxiproxy and with it (so that the pool's effect is told from the proxy's), then +2 ms.
POOL_SWEEPS = [LessonSweep("direct", "pool-size", POOL_VALUES),
               LessonSweep("0", "pool-size", POOL_VALUES, proxy=True),
               LessonSweep("2", "pool-size", POOL_VALUES, proxy=True, db_latency_ms=2)]
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
        ratios = paired_ratios(entry["sweep"], "pool-size")
        numbers[f"widest_{label}"] = widest(ratios)
        for cell_name, points in sweep.series(entry["sweep"]).items():
            key = f"{placeholder_of(cell_name)}_{label}"
            chosen = tune.choose(points, ratios, rule_pool=POOL_VALUES[-1])
            best = dict(points)[chosen["best_pool"]]
            numbers.update({f"{key}_best": f"{best['rps_median']:,.0f}", f"{key}_best_pool": str(chosen["best_pool"]),
                            f"{key}_tuned": str(chosen["pool"]) + (" (the best, inconclusive)"
                                                                   if chosen["inconclusive"] else ""),
                            f"{key}_trips": f"{round_trips(best['statements_per_request']):.0f}",
                            f"{key}_in_flight": f"{best_in_flight(best, latency):.1f}"})
            below = []
            for pool, cell in points:
                measured = results.estimate_of(cell)
                numbers.update({f"{key}_{pool}_rps": fmt_estimate(measured),
                                f"{key}_{pool}_share": share_text(cell, ratios),
                                f"{key}_{pool}_verdict": verdict(cell, ratios),
                                # Little's law on the pool: with every connection busy, each was held pool / RPS.
                                f"{key}_{pool}_hold_ms": f"{pool / cell['rps_median'] * 1000:.1f}"})
                if below_best(cell, ratios):
                    below.append(str(pool))
                rows.append([cell_name, PATH_TITLES.get(label, label), str(pool), numbers[f"{key}_{pool}_rps"],
                             numbers[f"{key}_{pool}_share"], "yes" if pool == chosen["pool"] else ""])
            numbers[f"{key}_below"] = ", ".join(below) if below else "none"
    numbers["table"] = formatting.md_table(["cell", "path to PostgreSQL", "pool per worker", "RPS [95%]",
                                        "over the cell's best pool, paired [95%]", "tune's choice"], rows)
    numbers["proxy_reading"] = "; ".join(proxy_reading(numbers, name) for name in ("fastapi/raw", "gin/raw"))
    return numbers


def proxy_reading(numbers: dict[str, str], cell_name: str) -> str:
    """Whether the rule's pool fell below the best with the proxy, without it, on both paths or on neither."""
    rule = POOL_VALUES[-1]
    direct, proxied = (numbers.get(f"{placeholder_of(cell_name)}_{label}_{rule}_verdict") == "below the best"
                       for label in ("direct", "0"))
    if direct and proxied:
        return f"for {cell_name} the rule's {rule} fell below the best on both paths: the cost is the pool's"
    if proxied:
        return (f"for {cell_name} it fell below the best through the proxy only: the cost belongs to the proxy "
                "sharing the two cores, not to the pool")
    if direct:
        return f"for {cell_name} it fell below the best without the proxy only"
    return f"for {cell_name} no cost of the rule's {rule} can be told on either path"


def best_in_flight(best: dict, latency_ms: int) -> float:
    """Little's law on the pool at the best rate: connections busy at once, counting the added
    latency of each round trip a request holds its connection across, and nothing else."""
    return best["rps_median"] * round_trips(best["statements_per_request"]) * latency_ms / 1000


def far_sweep(document: dict) -> dict:
    return max(document["sweeps"], key=lambda entry: entry["db_latency_ms"])


def small_pools_fall_short(document: dict, numbers: dict) -> Shown:
    """Across the network, every pool below Little's in-flight count fell below the best."""
    entry = far_sweep(document)
    ratios = sweep.point_ratios(entry["sweep"])
    said = []
    for cell_name, points in sweep.series(entry["sweep"]).items():
        chosen = tune.choose(points, ratios, rule_pool=POOL_VALUES[-1])
        needed = best_in_flight(dict(points)[chosen["best_pool"]], entry["db_latency_ms"])
        short = [(pool, cell) for pool, cell in points if pool < needed]
        if not short:
            return Shown(False, f"no pool of {cell_name} was below the {needed:.1f} connections in flight")
        if reason := unreadable(*(cell for _, cell in short)):
            return Shown(False, reason)
        fell = all(below_best(cell, ratios) for _, cell in short)
        said.append(f"{cell_name}: {needed:.1f} in flight; pools {', '.join(str(pool) for pool, _ in short)} "
                    f"{'all' if fell else 'not all'} below the best")
        if not fell:
            return Shown(False, "; ".join(said))
    return Shown(True, "; ".join(said))


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
        sweep.parameter_axis(axes, entry["values"], "pool size per worker")
        axes.set_title(PATH_TITLES.get(entry["label"], entry["label"]), loc="left", fontsize=9)
    panels[0].set_ylabel("throughput over the cell's best pool [95%]")
    figures.legend_below(figure, panels[0].get_legend_handles_labels()[0])
    return figure


LESSON = Lesson(
    "pool-size", "How big should the connection pool be: at least the connections, or small?",
    several_sweeps(RunOptions(frameworks=["fastapi", "gin"], variants=["raw"], budget_s=POOL_BUDGET_S,
                              short_warmup=True), POOL_SWEEPS),
    pool_numbers, pool_figure,
    claims=(
        Claim("little", "that across the network every pool below Little's connections in flight fell below the best",
              "Across the network, no pool smaller than the connections busy at once (Little's law at the best "
              "rate) reached the best: $why.", small_pools_fall_short),
    ),
    answer="little", read_first=("littles-law",))
