"""The A/A calibration: one cell started twice and measured as two cells by the run's own
stages. Their blocked ratio must contain 1; its half-width is this machine's noise floor
now, the smallest difference a run of this length could tell apart.
"""

from __future__ import annotations

from dataclasses import dataclass

from runner import results, statistics
from runner.errors import DbbenchError


@dataclass(frozen=True)
class Calibration:
    first: str
    second: str
    ratio: statistics.Ratio  # second / first, at the requested confidence
    noise_floor: float  # the 95% half-width of the same ratio
    noise: dict
    confidence: float

    @property
    def contains_one(self) -> bool:
        return not self.ratio.excludes_one()


def analyse(document: dict, confidence: float) -> Calibration:
    """The A/A ratio from a stored calibration run."""
    names = [c["name"] for c in document["cells"]]
    blocks = {c["name"]: {(s["group"], s["round"]): s["rps"] for s in results.used_slices(c)}
              for c in document["cells"] if c["clean"]}
    if len(names) != 2 or len(blocks) < 2:
        reasons = "; ".join(f"{c['name']}: {c['reason'] or 'errors in its slices'}" for c in document["cells"])
        raise DbbenchError(f"the calibration could not measure both instances: {reasons}")
    first, second = names
    ratio = statistics.BlockedComparison(blocks, confidence=confidence).ratio(second, first)
    if ratio is None or ratio.ci95 is None:
        raise DbbenchError("the calibration ended with too few rounds for an interval: raise --budget")
    floor = statistics.BlockedComparison(blocks).ratio(second, first).half_width
    return Calibration(first, second, ratio, floor, document["summary"]["noise"], confidence)


def render(found: Calibration, cell: str, slice_s: int) -> str:
    low, high = found.ratio.ci95
    noise = found.noise
    lines = [
        f"A/A calibration of {cell}: {found.second} / {found.first} = {found.ratio.value:.3f} [{low:.3f}–{high:.3f}] "
        f"({found.confidence:.0%} interval, {found.ratio.n} rounds of {slice_s} s)",
        f"noise floor: ±{found.noise_floor:.1%} (95%): the smallest difference a run of this length can tell apart "
        "here now",
        f"host: steal median {noise['steal_median']:.1%}, worst {noise['steal_worst']:.1%}; "
        f"{noise['disturbed']} of {noise['slices']} slices disturbed",
        "verdict: the interval contains 1, as an A/A test must" if found.contains_one else
        "verdict: the interval EXCLUDES 1: the host is drifting faster than the rounds can block, or something "
        "tells the two instances apart; distrust small differences in runs made now",
    ]
    return "\n".join(lines) + "\n"
