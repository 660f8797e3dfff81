"""The statistics stage: per-cell estimates, blocked ratios between cells, ties and the ranking.

Absolute figures: each is the median over slices, with a distribution-free 95% interval
from order statistics (as asv does): the k-th smallest and k-th largest slice, k from the
binomial distribution, so the interval always holds the median it is drawn around and asks
nothing of the shape of the data. Below MEDIAN_MIN_SLICES slices no such interval reaches
95%, and none is given. (It was Student's t interval of the mean, which a few skewed slices
could leave beside the median; stored results are derived again from their slices whenever
they are rendered, so an old file gets the new interval.)

Comparisons between cells are blocked: every round measures every cell once, in a shuffled
order, so a round is a block that shares the host's slow drift. The ratio of two cells is
the geometric mean of their within-round ratios, with Student's t interval on the log
ratios (paired, so the drift that moves both cancels). Cells in different groups (never up
at the same time) are compared through the anchor cell that every group holds: the two
log ratios to the anchor are subtracted and their variances added (Welch-Satterthwaite
degrees of freedom). Two cells tie when the interval of their ratio contains 1.

`compare` between two stored runs cannot pair anything: it uses the overlap of the two
absolute intervals, and says that it is unpaired.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import combinations

import numpy as np
from scipy import special  # binomial and Student t quantiles: scipy.stats's own, without its 1.3 s import

CONFIDENCE = 0.95
BUSY_FRACTION = 0.9
NOISY_CV = 0.10


@dataclass(frozen=True)
class Estimate:
    """The median over slices and its 95% interval (None below MEDIAN_MIN_SLICES slices)."""

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


def median_rank_bounds(n: int, confidence: float = CONFIDENCE) -> tuple[int, int] | None:
    """The 0-based ranks (k, n-1-k) of the sorted values that bound the median with at least
    this confidence: the count of values below the true median is Binomial(n, 1/2), so
    [x_(k), x_(n-1-k)] misses it with probability 2 * P(B <= k). None where even the whole
    range (k = 0) falls short, as with 5 values or fewer at 95%."""
    tails = special.bdtr(np.arange(n), n, 0.5)  # P(B <= k) for B ~ Binomial(n, 1/2)
    fits = np.flatnonzero(2 * tails <= 1 - confidence)
    if not len(fits):
        return None
    k = int(fits[-1])
    return k, n - 1 - k


MEDIAN_MIN_SLICES = next(n for n in range(1, 100) if median_rank_bounds(n) is not None)


def estimate(values: list[float]) -> Estimate | None:
    if not values:
        return None
    data = np.sort(np.asarray(values, dtype=float))
    n = len(data)
    mean = float(data.mean())
    bounds = median_rank_bounds(n)
    ci = (float(data[bounds[0]]), float(data[bounds[1]])) if bounds else None
    sd = float(data.std(ddof=1)) if n > 1 else None
    return Estimate(n=n, median=float(np.median(data)), mean=mean, ci95=ci,
                    cv=sd / mean if sd is not None and mean else None)


def interval_note(n: int) -> str:
    """Why a figure has no interval beside it."""
    return f"{n} slice{'s' if n != 1 else ''}, too few for a 95% interval ({MEDIAN_MIN_SLICES} needed)"


def separation(a: Estimate, b: Estimate) -> str:
    """'apart' where the two 95% intervals do not overlap, 'overlap' where they do, and 'unknown'
    where either has none (too few slices): the last two both mean the data cannot tell."""
    if a.ci95 is None or b.ci95 is None:
        return "unknown"
    return "overlap" if a.overlaps(b) else "apart"


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


def median(values: list[float]) -> float | None:
    return float(np.median(values)) if values else None


def percentile_medians(rounds: list[dict]) -> dict[str, float]:
    """Each latency percentile's median over rounds, leaving out a percentile that the median
    slice holds too few requests for: with fewer than 1,000, a slice's p99.9 is its maximum
    (half-second slices of five default cells held 300-650), and a median of maxima is not a p99.9."""
    if not rounds:
        return {}
    requests = float(np.median([r["requests"] for r in rounds]))
    return {key: round(float(np.median([r["latency_ms"][key] for r in rounds])), 3)
            for key in rounds[0]["latency_ms"] if resolvable(key, requests)}


def resolvable(key: str, requests: float) -> bool:
    """A percentile ("p99.9") needs at least one request beyond it; "mean" and "max" always hold."""
    return requests >= requests_for(key) - 1e-9


def requests_for(key: str) -> int:
    """The fewest requests a slice needs for a percentile ("p99": 100, "p99.9": 1,000); 0 for "mean" and "max"."""
    if not key.startswith("p"):
        return 0
    return math.ceil(1 / (1 - float(key[1:]) / 100) - 1e-9)


LOAD_GENERATORS = ("wrk", "oha")  # closed-loop, constant-rate


def busy_flags(rounds: list[dict], wrk_threads: int, cores: int, server_cpus: int,
               db_cores: int | None = None) -> list[str]:
    """client-bound: the load generator (wrk, or oha at a constant rate) used >= 90% of its
    threads; db-bound: PostgreSQL used >= 90% of the cores left to it (`db_cores`: a db host
    of its own). Either way the figure says little about the framework."""
    flags = []
    generator = next((g for g in LOAD_GENERATORS if rounds and g in rounds[0]["cpu_seconds"]), "wrk")
    for label, party, capacity in (
        ("client-bound", generator, wrk_threads),
        ("db-bound", "postgres", db_cores or max(1, cores - server_cpus - wrk_threads)),
    ):
        loads = [r["cpu_seconds"][party] / r["duration_s"] for r in rounds
                 if r["cpu_seconds"].get(party) is not None and r["duration_s"]]
        if loads and float(np.median(loads)) >= BUSY_FRACTION * capacity:
            flags.append(label)
    return flags


def parties_measured(slices: list[dict]) -> list[str]:
    """Server, PostgreSQL and the load generator always (wrk, or oha at a constant rate, each
    None where unknown); the proxy party (toxiproxy, PgBouncer) where one was in the path."""
    generator = "oha" if any("oha" in s["cpu_seconds"] for s in slices) else "wrk"
    proxy = ["proxy"] if any(s["cpu_seconds"].get("proxy") is not None for s in slices) else []
    return ["server", "postgres", generator, *proxy]


def cpu_utilisation(rounds: list[dict]) -> dict[str, float | None]:
    """Median cores used by each party during the measured runs."""
    result = {}
    for party in parties_measured(rounds):
        loads = [r["cpu_seconds"][party] / r["duration_s"] for r in rounds
                 if r["cpu_seconds"].get(party) is not None and r["duration_s"]]
        result[party] = round(float(np.median(loads)), 3) if loads else None
    return result


def memory_of(slices: list[dict], workers: int) -> dict | None:
    """The server's resident memory at steady state: the median over the slices of its whole
    process tree's RSS, and that over its workers (a master process, where there is one, counted
    in; pages the workers share after fork counted in each). None where no slice recorded it."""
    found = [s["server_rss_mib"] for s in slices if s.get("server_rss_mib") is not None]
    if not found:
        return None
    total = float(np.median(found))
    return {"rss_mib": round(total, 1), "per_worker_mib": round(total / max(1, workers), 1)}


def between_title(run: dict) -> str:
    """What the "proxy" party held in a run: toxiproxy, PgBouncer, or both."""
    parts = [name for name, key in (("toxiproxy", "proxy"), ("PgBouncer", "pooler")) if run.get(key)]
    return " + ".join(parts) or "toxiproxy"


CPU_PARTIES = ("server", "postgres", "wrk", "oha", "proxy")
# Shown where measured: the load generator is wrk (closed loop) or oha (constant rate); proxy is
# whatever stood between the cells and PostgreSQL: toxiproxy (--db-latency, --proxy, --fault),
# PgBouncer (--pooler), or both.
OPTIONAL_PARTIES = ("wrk", "oha", "proxy")


def cpu_per_request(slices: list[dict]) -> dict[str, float | None]:
    """Where a request's time goes: each party's CPU microseconds per completed request, the
    CPU seconds summed over the slices over the requests summed over them (a ratio of sums, so
    a short slice weighs what it measured). None for a party not measured (an external
    PostgreSQL) or when no request completed."""
    requests = sum(s["requests"] for s in slices)
    result = {}
    for party in parties_measured(slices):
        seconds = [s["cpu_seconds"].get(party) for s in slices]
        known = requests > 0 and bool(seconds) and all(value is not None for value in seconds)
        result[party] = round(sum(seconds) / requests * 1e6, 1) if known else None
    return result


def open_loop_summary(slices: list[dict]) -> dict | None:
    """A constant-rate cell: its target, what it achieved, whether every slice held its rate, and
    each latency percentile's median over slices with the 95% interval of that median (as RPS has),
    leaving out a percentile the median slice holds too few requests for (as closed loop does)."""
    if not slices or not all("open_loop" in s for s in slices):
        return None
    latency = {}
    requests = float(np.median([s["requests"] for s in slices]))
    for key in (key for key in slices[0]["latency_ms"] if resolvable(key, requests)):
        found = estimate([s["latency_ms"][key] for s in slices])
        latency[key] = {"median": round(found.median, 3),
                        "ci95": [round(x, 3) for x in found.ci95] if found.ci95 else None}
    sent = sum(s["open_loop"]["sent"] for s in slices)
    return {
        "target_rps": slices[0]["open_loop"]["target_rps"],
        "achieved_rps": round(float(np.median([s["open_loop"]["achieved_rps"] for s in slices])), 2),
        "held": all(s["open_loop"]["held"] for s in slices),
        "slices_not_held": sum(1 for s in slices if not s["open_loop"]["held"]),
        "late_share": round(sum(s["open_loop"]["late"] for s in slices) / sent, 4) if sent else None,
        "latency_ms": latency,
        "service_p99_ms": round(float(np.median([s["open_loop"]["service_ms"]["p99"] for s in slices])), 3)
        if resolvable("p99", requests) else None,
    }


# ----------------------------------------------------------------- blocked ratios

Block = tuple[int, int]  # (group, round)


@dataclass(frozen=True)
class Ratio:
    """a / b: the geometric mean of within-round ratios, with its 95% interval."""

    log_ratio: float
    log_half_width: float | None
    n: int
    paired: bool

    @property
    def value(self) -> float:
        return math.exp(self.log_ratio)

    @property
    def ci95(self) -> tuple[float, float] | None:
        if self.log_half_width is None:
            return None
        return math.exp(self.log_ratio - self.log_half_width), math.exp(self.log_ratio + self.log_half_width)

    @property
    def half_width(self) -> float | None:
        """Relative: the interval is value × (1 ± about this)."""
        return None if self.log_half_width is None else math.expm1(self.log_half_width)

    def excludes_one(self) -> bool:
        return self.log_half_width is not None and abs(self.log_ratio) > self.log_half_width

    def inverse(self) -> Ratio:
        return Ratio(-self.log_ratio, self.log_half_width, self.n, self.paired)

    def as_dict(self) -> dict:
        ci = self.ci95
        return {"ratio": round(self.value, 4), "ci95": [round(ci[0], 4), round(ci[1], 4)] if ci else None,
                "n": self.n, "paired": self.paired, "tie": not self.excludes_one()}


@dataclass(frozen=True)
class _LogMean:
    mean: float
    se: float | None
    df: int


def _log_mean(differences: list[float]) -> _LogMean:
    data = np.asarray(differences, dtype=float)
    if len(data) < 2:
        return _LogMean(float(data.mean()), None, len(data) - 1)
    return _LogMean(float(data.mean()), float(data.std(ddof=1)) / math.sqrt(len(data)), len(data) - 1)


def _ratio(mean: float, se: float | None, df: float, n: int, paired: bool, confidence: float = CONFIDENCE) -> Ratio:
    if se is None or df < 1:
        return Ratio(mean, None, n, paired)
    return Ratio(mean, float(special.stdtrit(df, 0.5 + confidence / 2)) * se, n, paired)  # Student t quantile


class BlockedComparison:
    """Ratios between cells from their slices: {cell: {(group, round): rps}}."""

    def __init__(self, slices: dict[str, dict[Block, float]], anchor: str | None = None,
                 confidence: float = CONFIDENCE):
        self.slices = {name: {block: rps for block, rps in values.items() if rps > 0}
                       for name, values in slices.items()}
        self.anchor = anchor
        self.confidence = confidence

    def paired(self, a: str, b: str) -> _LogMean | None:
        common = sorted(set(self.slices[a]) & set(self.slices[b]))
        if not common:
            return None
        return _log_mean([math.log(self.slices[a][k] / self.slices[b][k]) for k in common])

    def ratio(self, a: str, b: str) -> Ratio | None:
        """a / b, paired where they shared rounds, else through the anchor."""
        direct = self.paired(a, b)
        if direct is not None and direct.df >= 1:
            return _ratio(direct.mean, direct.se, direct.df, direct.df + 1, True, self.confidence)
        if self.anchor is None or self.anchor in (a, b):
            return None if direct is None else _ratio(direct.mean, None, 0, 1, paired=True)
        to_a, to_b = self.paired(a, self.anchor), self.paired(b, self.anchor)
        if to_a is None or to_b is None or to_a.se is None or to_b.se is None:
            return None
        variance = to_a.se ** 2 + to_b.se ** 2
        if variance == 0:
            return _ratio(to_a.mean - to_b.mean, 0.0, 1, to_a.df + to_b.df + 2, False, self.confidence)
        df = variance ** 2 / (to_a.se ** 4 / max(to_a.df, 1) + to_b.se ** 4 / max(to_b.df, 1))
        return _ratio(to_a.mean - to_b.mean, math.sqrt(variance), df, min(to_a.df, to_b.df) + 1, False,
                      self.confidence)

    def level(self, name: str) -> float:
        """A cell's log throughput relative to the anchor (or to the first cell): what ranks it."""
        base = self.anchor or next(iter(self.slices))
        if name == base:
            return 0.0
        found = self.ratio(name, base)
        if found is not None:
            return found.log_ratio
        values = list(self.slices[name].values())
        return math.log(float(np.median(values))) if values else -math.inf

    def rank(self, names: Iterable[str]) -> tuple[dict[str, int], list[tuple[str, str, Ratio | None]]]:
        """Competition ranking by level. A cell takes a rank of its own when its ratio to the
        cell above and its ratio to its rank's first cell both exclude 1; otherwise it shares
        that rank (a tie: the data cannot tell them apart). Also returns the adjacent ratios."""
        order = sorted(names, key=self.level, reverse=True)
        ranks: dict[str, int] = {}
        adjacent: list[tuple[str, str, Ratio | None]] = []
        leader = None
        for position, name in enumerate(order, start=1):
            if leader is None:
                leader, ranks[name] = name, position
                continue
            above = order[position - 2]
            to_above = self.ratio(above, name)
            adjacent.append((above, name, to_above))
            to_leader = to_above if leader == above else self.ratio(leader, name)
            apart = all(r is not None and r.excludes_one() for r in (to_above, to_leader))
            if apart:
                leader, ranks[name] = name, position
            else:
                ranks[name] = ranks[leader]
        return ranks, adjacent

    def smallest_detectable(self, names: Iterable[str]) -> float | None:
        """The median relative half-width over every pair: a difference smaller than this
        would, as a rule, be reported as a tie by this run."""
        widths = [r.half_width for a, b in combinations(list(names), 2)
                  if (r := self.ratio(a, b)) is not None and r.half_width is not None]
        return float(np.median(widths)) if widths else None
