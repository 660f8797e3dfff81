"""The lesson "the ORM tax, taken apart": what each layer of an ORM costs per request."""

from __future__ import annotations

from matplotlib.figure import Figure

from runner.base.errors import DbbenchError
from runner.lessons.claims import Claim, Shown
from runner.lessons.engine import Lesson, run_experiment
from runner.lessons.toolkit import blocked, fmt_estimate, fmt_ratio_of, per_slice, placeholder_of
from runner.measure.options import RunOptions
from runner.report import figures, formatting, results, stats

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
        cell, key = by_variant[variant], placeholder_of(variant)
        over_raw = comparison.ratio(cell["name"], by_variant["raw"]["name"]) if variant != "raw" else None
        numbers.update({
            f"{key}_rps": fmt_estimate(results.estimate_of(cell)),
            f"{key}_over_raw": "1" if variant == "raw" else fmt_ratio_of(over_raw) if over_raw else "—",
            f"{key}_server_us": fmt_estimate(per_slice(cell, "server")),
            f"{key}_postgres_us": fmt_estimate(per_slice(cell, "postgres")),
            f"{key}_statements": formatting.spr_text(cell),
        })
        rows.append([f"{framework}/{variant}", numbers[f"{key}_rps"], numbers[f"{key}_over_raw"],
                     numbers[f"{key}_server_us"], numbers[f"{key}_postgres_us"], numbers[f"{key}_statements"]])
    numbers["table"] = formatting.md_table(["cell", "RPS [95%]", "over raw [95%]", "server µs per request [95%]",
                                        "PostgreSQL µs per request [95%]", "statements per request"], rows)
    return numbers


def layer_numbers(prices: dict[str, tuple[stats.Ratio, float]]) -> dict[str, str]:
    """Per layer: the blocked throughput ratio of the pair that differs in it, the server µs the
    layer costs (the difference of the two medians), and what the interval lets one say."""
    numbers: dict[str, str] = {}
    for layer, (found, us) in prices.items():
        numbers[f"{layer}_ratio"] = fmt_ratio_of(found)
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


def orm_tax_figure(document: dict) -> Figure:
    return figures.cpu(document)


TAX_STACK = ("core", "orm", "compilation")  # raw -> Core -> ORM -> ORM without its cache: one step each


def steps_in_order(document: dict) -> list[tuple[str, stats.Ratio]]:
    """The stack's steps, the steepest (lowest throughput ratio) first."""
    prices = layer_prices(document)
    return sorted(((layer, prices[layer][0]) for layer in TAX_STACK), key=lambda item: item[1].value)


def steps_text(steps: list[tuple[str, stats.Ratio]]) -> str:
    return ", ".join(f"{layer} {fmt_ratio_of(found)}" for layer, found in steps)


def apart(lower: stats.Ratio, higher: stats.Ratio) -> bool:
    """Two steps told apart: the lower's whole interval under the higher's."""
    return lower.ci95 is not None and higher.ci95 is not None and lower.ci95[1] < higher.ci95[0]


def core_is_the_steepest(document: dict, numbers: dict) -> Shown:
    steps = steps_in_order(document)
    return Shown(steps[0][0] == "core" and apart(steps[0][1], steps[1][1]),
                 f"steepest first, intervals apart: {steps_text(steps)}")


def compilation_is_next(document: dict, numbers: dict) -> Shown:
    steps = steps_in_order(document)
    return Shown(steps[1][0] == "compilation" and apart(steps[1][1], steps[2][1]),
                 f"steepest first, intervals apart: {steps_text(steps)}")


def baking_pays_in_gino(document: dict, numbers: dict) -> Shown:
    found = layer_prices(document)["gino_baking"][0]
    return Shown(found.ci95 is not None and found.ci95[0] > 1, f"gino-baked over gino-orm {fmt_ratio_of(found)}")


def the_tax_is_the_server_s(document: dict, numbers: dict) -> Shown:
    cells = orm_variants(document).values()
    spread = {party: [per_slice(cell, party).median for cell in cells] for party in ("server", "postgres")}
    server, postgres = (max(spread[party]) - min(spread[party]) for party in ("server", "postgres"))
    return Shown(postgres < server, f"across the variants PostgreSQL's median µs per request spread over "
                                    f"{postgres:,.0f} µs, the server's over {server:,.0f}")


LESSON = Lesson(
    "orm-tax", "What does an ORM cost per request, layer by layer?",
    run_experiment(RunOptions(frameworks=["fastapi"], variants=ORM_VARIANTS, connections=32, budget_s=270)),
    orm_tax_numbers, orm_tax_figure,
    claims=(
        Claim("core_steepest", "that Core over raw is the steepest step of the stack",
              "Core over raw ($core_ratio) is the largest single step ($why).", core_is_the_steepest),
        Claim("compilation_next", "that compiling on every request is the next step",
              "Compilation is the next ($why).", compilation_is_next),
        Claim("gino_baking", "that GINO's baked queries pay over GINO's own ORM",
              "GINO's baked queries do pay: $why.", baking_pays_in_gino),
        Claim("server_tax", "that the tax is the server's CPU, not PostgreSQL's",
              "The tax is the server's CPU: $why.", the_tax_is_the_server_s),
    ),
    answer="core_steepest", read_first=("where-time-goes",))
