"""The statistics stage: per-cell estimates over rounds, intervals, ties and the ranking.

The interval is Student's t 95% interval of the mean per-round RPS (scipy), cut at zero
since a rate cannot be negative. Two cells
are a tie when their intervals overlap; that rule also decides `compare`. Mann-Whitney U
was not chosen: with the default 3 rounds per cell its smallest two-sided p-value is 0.1,
so it could never separate two cells at the 5% level.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

CONFIDENCE = 0.95
BUSY_FRACTION = 0.9
NOISY_CV = 0.10


@dataclass(frozen=True)
class Estimate:
    n: int
    median: float
    mean: float
    ci95: tuple[float, float] | None
    cv: float | None

    @property
    def half_width(self) -> float | None:
        return (self.ci95[1] - self.ci95[0]) / 2 if self.ci95 else None

    def overlaps(self, other: Estimate) -> bool:
        """Without intervals (one round) nothing can be told apart: a tie."""
        if self.ci95 is None or other.ci95 is None:
            return True
        return self.ci95[0] <= other.ci95[1] and other.ci95[0] <= self.ci95[1]


def estimate(values: list[float]) -> Estimate | None:
    if not values:
        return None
    data = np.asarray(values, dtype=float)
    n = len(data)
    mean = float(data.mean())
    if n < 2:
        return Estimate(n=n, median=float(np.median(data)), mean=mean, ci95=None, cv=None)
    sd = float(data.std(ddof=1))
    if sd == 0:
        ci = (mean, mean)
    else:
        low, high = stats.t.interval(CONFIDENCE, n - 1, loc=mean, scale=sd / math.sqrt(n))
        ci = (max(0.0, float(low)), float(high))
    return Estimate(n=n, median=float(np.median(data)), mean=mean, ci95=ci, cv=sd / mean if mean else None)


def rank(estimates: dict[str, Estimate]) -> dict[str, int]:
    """Competition ranking by median; a cell whose interval overlaps its group leader's ties with it."""
    order = sorted(estimates, key=lambda name: estimates[name].median, reverse=True)
    ranks: dict[str, int] = {}
    leader = None
    for position, name in enumerate(order, start=1):
        if leader is not None and estimates[name].overlaps(estimates[leader]):
            ranks[name] = ranks[leader]
        else:
            leader = name
            ranks[name] = position
    return ranks


def significant(a: Estimate, b: Estimate) -> bool:
    return not a.overlaps(b)


def percentile_medians(rounds: list[dict]) -> dict[str, float]:
    """Each latency percentile's median over rounds."""
    keys = rounds[0]["latency_ms"].keys() if rounds else ()
    return {key: round(float(np.median([r["latency_ms"][key] for r in rounds])), 3) for key in keys}


def busy_flags(rounds: list[dict], wrk_threads: int, cores: int, server_cpus: int) -> list[str]:
    """client-bound: wrk used >= 90% of its threads; db-bound: PostgreSQL used >= 90% of the
    cores left to it. Either way the figure says little about the framework."""
    flags = []
    for label, party, capacity in (
        ("client-bound", "wrk", wrk_threads),
        ("db-bound", "postgres", max(1, cores - server_cpus - wrk_threads)),
    ):
        loads = [r["cpu_seconds"][party] / r["duration_s"] for r in rounds
                 if r["cpu_seconds"].get(party) is not None and r["duration_s"]]
        if loads and float(np.median(loads)) >= BUSY_FRACTION * capacity:
            flags.append(label)
    return flags


def cpu_utilisation(rounds: list[dict]) -> dict[str, float | None]:
    """Median cores used by each party during the measured runs."""
    result = {}
    for party in ("server", "wrk", "postgres"):
        loads = [r["cpu_seconds"][party] / r["duration_s"] for r in rounds
                 if r["cpu_seconds"].get(party) is not None and r["duration_s"]]
        result[party] = round(float(np.median(loads)), 3) if loads else None
    return result
