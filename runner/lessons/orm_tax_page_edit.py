"""The lesson "the ORM tax on a page and an edit": each layer's cost when a request reads 20 rows,
or writes one."""

from __future__ import annotations

from matplotlib.figure import Figure

from runner.base.errors import DbbenchError
from runner.lessons.claims import Claim, Shown
from runner.lessons.engine import Lesson, scenario_experiment
from runner.lessons.orm_tax import (
    ORM_LAYERS,
    ORM_VARIANTS,
    TAX_STACK,
    layer_numbers,
    layer_prices,
    orm_variants,
    variant_numbers,
)
from runner.lessons.toolkit import POOL_RESET_STATEMENTS, fmt_ratio_of, runs_in
from runner.measure.options import RunOptions
from runner.report import figures, formatting

ROW_SCENARIOS = ("page", "edit")
# Rounds per scenario: enough for every cell's own interval (the first version's four gave none).
ROUNDS = 10
LAYER_TITLES = {
    "compilation": "compiling the statement (nocache / orm)",
    "orm": "the ORM over Core (orm / core)",
    "lambda": "a lambda statement (lambda / orm)",
    "core": "SQLAlchemy Core over raw (core / raw)",
    "gino_baking": "GINO's baking (baked / gino-orm)",
    "cached": "baked GINO over lambda (baked / lambda)",
}
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
                                    for text in (fmt_ratio_of(prices[scenario][layer][0]),
                                                 f"{prices[scenario][layer][1]:+,.0f}")]]
            for layer, _, _ in ORM_LAYERS]
    header = ["layer (with it / without it)"]
    for scenario in ROW_SCENARIOS:
        header += [f"{scenario}: throughput ratio [95%]", f"{scenario}: server µs"]
    numbers["layers"] = formatting.md_table(header, rows)
    rounds = {run["metadata"]["run"].get("rounds_done") or max(piece["round"] for cell in run["cells"]
                                                                for piece in cell["slices"])
              for run in runs_in(document)}
    numbers["rounds"] = " and ".join(str(count) for count in sorted(rounds))
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


def statements_of(document: dict, scenario: str, cell_name: str) -> dict[str, float]:
    run = by_scenario(document, (scenario,))[scenario]
    return next(cell["statements_per_request"] for cell in run["cells"] if cell["name"] == cell_name)


def the_orm_edits_in_two_round_trips(document: dict, numbers: dict) -> Shown:
    """The verified statements: the ORM loads then updates, Core sends one UPDATE ... RETURNING."""
    orm = statements_of(document, "edit", "fastapi/sa-orm")
    core = statements_of(document, "edit", "fastapi/sa-core")
    said = f"sa-orm: lookup {orm.get('lookup', 0):g}, update {orm.get('update', 0):g}; sa-core: lookup " \
           f"{core.get('lookup', 0):g}, update {core.get('update', 0):g}"
    return Shown(orm.get("lookup") == 1 and orm.get("update") == 1 and not core.get("lookup")
                 and core.get("update") == 1, said)


def gino_edits_outside_a_transaction(document: dict, numbers: dict) -> Shown:
    """gino-baked's edit: two statements, no transaction, a pool reset after each."""
    gino = statements_of(document, "edit", "fastapi/gino-baked")
    said = ", ".join(f"{kind} {value:g}" for kind, value in gino.items())
    return Shown(gino.get("lookup") == 1 and gino.get("update") == 1 and not gino.get("transaction")
                 and gino.get("pool reset") == 2 * POOL_RESET_STATEMENTS, f"gino-baked per edit: {said}")


LESSON = Lesson(
    "orm-tax-page-edit", "What does each ORM layer cost when a request reads 20 rows, or writes one?",
    scenario_experiment(RunOptions(frameworks=["fastapi"], variants=ORM_VARIANTS, connections=32, slice_s=2,
                                   rounds=ROUNDS), ROW_SCENARIOS),
    orm_tax_rows_numbers, orm_tax_rows_figure,
    claims=(
        Claim("orm_plan", "that on an edit the ORM loads and then updates where Core sends one UPDATE",
              "Its unit of work loads the user and then flushes an `UPDATE`, where Core sends one "
              "`UPDATE ... RETURNING` (verified: $why).", the_orm_edits_in_two_round_trips),
        Claim("gino_twice", "that GINO's edit sends its two statements outside a transaction, each with a reset",
              "GINO sends the load and the `UPDATE` as two statements outside a transaction, each taking a "
              "connection from asyncpg's pool and giving it back ($why).", gino_edits_outside_a_transaction),
    ),
    answer="orm_plan", read_first=("orm-tax",))
