"""The A/A calibration: one cell started two or more times and measured as that many cells by
the run's own stages. Every ratio between its instances must contain 1; their median
half-width is this machine's noise floor now, the smallest difference a run of this length
could tell apart.

With more than two instances, the pairs are tested together (Bonferroni: each interval at
the confidence's share of the pairs), so that an honest A/A of seven does not fail about one
time in two, as its 21 pairs at 95% each would. What it adds: whether two starts of the same
cell can differ by more than the slices' noise, which an interval between two cells cannot see.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

from runner.base.errors import DbbenchError
from runner.report import formatting, results, stats


@dataclass(frozen=True)
class Calibration:
    instances: list[str]
    to_first: dict[str, stats.Ratio]  # each later instance over the first, at `confidence`
    excluding: list[tuple[str, str, stats.Ratio]]  # pairs whose family-wise interval excludes 1
    pairs: int
    pair_confidence: float  # each pair's level, so that all pairs hold together at `confidence`
    noise_floor: float  # the median 95% half-width over the pairs (two instances: their ratio's)
    noise: dict
    confidence: float

    @property
    def contains_one(self) -> bool:
        return not self.excluding


def analyse(document: dict, confidence: float) -> Calibration:
    """The A/A ratios from a stored calibration run."""
    names = [c["name"] for c in document["cells"]]
    blocks = results.blocks_of(document["cells"])
    if len(names) < 2 or len(blocks) < len(names):
        reasons = "; ".join(f"{c['name']}: {c['reason'] or 'errors in its slices'}"
                            for c in document["cells"] if c["name"] not in blocks)
        raise DbbenchError(f"the calibration could not measure every instance: {reasons}")
    anchor = document["metadata"]["run"].get("anchor")
    pairs = list(combinations(names, 2))
    pair_confidence = 1 - (1 - confidence) / len(pairs)
    family = stats.BlockedComparison(blocks, anchor=anchor, confidence=pair_confidence)
    found = {(a, b): family.ratio(b, a) for a, b in pairs}
    if any(ratio is None or ratio.ci95 is None for ratio in found.values()):  # the same at any level
        raise DbbenchError("the calibration ended with too few rounds for an interval: raise --budget")
    first = names[0]
    shown = stats.BlockedComparison(blocks, anchor=anchor, confidence=confidence)
    return Calibration(
        instances=names,
        to_first={name: shown.ratio(name, first) for name in names[1:]},
        excluding=[(a, b, ratio) for (a, b), ratio in found.items() if ratio.excludes_one()],
        pairs=len(pairs), pair_confidence=pair_confidence,
        noise_floor=stats.BlockedComparison(blocks, anchor=anchor).smallest_detectable(names),
        noise=document["summary"]["noise"], confidence=confidence)


def interval_text(ratio: stats.Ratio) -> str:
    return f"{ratio.value:.3f}{formatting.fmt_interval(ratio.ci95, digits=3)}"


def render(found: Calibration, cell: str, slice_s: float) -> str:
    noise = found.noise
    first, *others = found.instances
    rounds = min(ratio.n for ratio in found.to_first.values())
    if not others[1:]:
        lines = [
            f"A/A calibration of {cell}: {others[0]} / {first} = {interval_text(found.to_first[others[0]])} "
            f"({found.confidence:.0%} interval, {rounds} rounds of {slice_s} s)",
            f"noise floor: ±{found.noise_floor:.1%} (95%): the smallest difference a run of this length can tell "
            "apart here now",
        ]
    else:
        lines = [
            f"A/A calibration of {cell}: {len(found.instances)} instances, {rounds} rounds of {slice_s} s; each over "
            f"{first} ({found.confidence:.0%} intervals): "
            + ", ".join(f"{name[-2]} {interval_text(ratio)}" for name, ratio in found.to_first.items()),
            f"noise floor: ±{found.noise_floor:.1%} (95%, the median over the {found.pairs} pairs): the smallest "
            "difference a run of this length can tell apart here now",
        ]
    lines.append(f"host: steal median {noise['steal_median']:.1%}, worst {noise['steal_worst']:.1%}; "
                 f"{noise['disturbed']} of {noise['slices']} slices disturbed")
    together = "" if found.pairs == 1 else \
        f" at {found.confidence:.0%} over all {found.pairs} pairs together (each at {found.pair_confidence:.2%})"
    if found.contains_one:
        lines.append("verdict: the interval contains 1, as an A/A test must" if found.pairs == 1 else
                     f"verdict: every pair's interval contains 1{together}, as an A/A test must")
    elif found.pairs == 1:
        lines.append("verdict: the interval EXCLUDES 1: the host is drifting faster than the rounds can block, or "
                     "something tells the two instances apart; distrust small differences in runs made now")
    else:
        named = ", ".join(f"{b[-2]}/{a[-2]} {interval_text(ratio)}" for a, b, ratio in found.excluding)
        lines.append(f"verdict: {len(found.excluding)} of {found.pairs} pairs EXCLUDE 1{together}: {named}; "
                     "the host drifted faster than the rounds can block, or two starts of one cell differ: distrust "
                     "small differences between cells in runs made now, and measure a close call again in a second "
                     "run")
    return "\n".join(lines) + "\n"
