"""Statistics on known inputs: ties tie, clear gaps rank, intervals behave."""

import numpy as np
import pytest
from scipy import stats as scipy_stats

from runner.report import stats


def test_interval_holds_the_median_and_shrinks_with_agreement():
    noisy = stats.estimate([900, 1000, 1100, 950, 1050, 980, 1020, 1000])
    tight = stats.estimate([990, 1000, 1010, 995, 1005, 998, 1002, 1000])
    assert noisy.ci95[0] <= noisy.median <= noisy.ci95[1]
    assert tight.half_width < noisy.half_width
    assert noisy.median == 1000
    assert noisy.cv == pytest.approx(np.std([900, 1000, 1100, 950, 1050, 980, 1020, 1000], ddof=1) / 1000)


def test_too_few_slices_give_no_interval_rather_than_a_narrower_one():
    """Five slices cover the median with 93.75% at best (the whole range): no 95% interval.
    Six do, with the whole range (96.9%)."""
    assert stats.MEDIAN_MIN_SLICES == 6
    assert stats.estimate([1000, 1010, 990, 1005, 995]).ci95 is None
    assert stats.estimate([1000, 1010, 990, 1005, 995, 1200]).ci95 == (990, 1200)
    assert "5 slices, too few for a 95% interval (6 needed)" == stats.interval_note(5)


def test_the_bounds_are_the_binomial_order_statistics():
    """n = 20: the 6th smallest and 6th largest (P(B <= 5) = 2.07%, twice that 4.1% <= 5%; the 7th
    would give 11.5%)."""
    assert stats.median_rank_bounds(20) == (5, 14)
    assert stats.median_rank_bounds(6) == (0, 5)
    assert stats.median_rank_bounds(5) is None


def stats_t_interval(values):
    """The interval the absolute figures used to have: Student's t around the mean."""
    data = np.asarray(values, dtype=float)
    return scipy_stats.t.interval(0.95, len(data) - 1, loc=data.mean(), scale=data.std(ddof=1) / np.sqrt(len(data)))


def test_skewed_slices_whose_mean_interval_misses_the_median_get_an_interval_around_it():
    """The shape that crashed a run: a few slow slices pull the mean far below most of them, and
    Student's t interval around the mean no longer holds the median; order statistics do."""
    slices = [530, 540, 545, 535, 538, 300, 310, 441, 290, 542, 539, 305]
    found = stats.estimate(slices)
    t_low, t_high = stats_t_interval(slices)
    assert not t_low <= found.median <= t_high, "the old interval must miss the median for this test to mean much"
    assert found.ci95[0] <= found.median <= found.ci95[1]


def test_the_median_interval_covers_the_true_median_at_least_95_percent_of_the_time():
    """Lognormal slices (skewed, as RPS under noise is), 2,000 draws of 12: the coverage is the
    binomial one, about 96%, whatever the shape."""
    rng = np.random.default_rng(7)
    true_median = 1000.0
    covered = 0
    for _ in range(2000):
        found = stats.estimate(list(true_median * np.exp(rng.normal(0, 0.3, 12))))
        covered += found.ci95[0] <= true_median <= found.ci95[1]
    assert covered / 2000 >= 0.95


def test_a_single_round_has_no_interval_and_ties_with_anything():
    single = stats.estimate([1000])
    assert single.ci95 is None
    assert single.overlaps(stats.estimate([5000, 5001, 5002, 5003, 5004, 5005]))


def test_overlapping_cells_tie():
    ranks = stats.rank({
        "a": stats.estimate([1000, 1050, 980, 1010, 1030, 990]),
        "b": stats.estimate([1010, 990, 1040, 1000, 1020, 985]),
    })
    assert ranks == {"a": 1, "b": 1}


def test_a_two_fold_gap_ranks():
    slow, fast = [1000, 1020, 990, 1010, 1005, 995], [2000, 2030, 1985, 2010, 2005, 1990]
    ranks = stats.rank({
        "slow": stats.estimate(slow),
        "fast": stats.estimate(fast),
        "slow-twin": stats.estimate([1005, 995, 1012, 1000, 1008, 998]),
    })
    assert ranks["fast"] == 1
    assert ranks["slow"] == ranks["slow-twin"] == 2
    assert stats.separation(stats.estimate(slow), stats.estimate(fast)) == "apart"
    assert stats.separation(stats.estimate(slow), stats.estimate(slow[:5])) == "unknown"
    assert stats.separation(stats.estimate(slow), stats.estimate([s + 1 for s in slow])) == "overlap"


def test_busy_flags():
    rounds = [{"duration_s": 10, "cpu_seconds": {"wrk": 9.5, "server": 10, "postgres": 2}}]
    assert stats.busy_flags(rounds, wrk_threads=1, cores=4, server_cpus=1) == ["client-bound"]
    rounds = [{"duration_s": 10, "cpu_seconds": {"wrk": 2, "server": 10, "postgres": 19}}]
    assert stats.busy_flags(rounds, wrk_threads=1, cores=4, server_cpus=1) == ["db-bound"]


# ----------------------------------------------------------------- blocked ratios, on synthetic data

TRUE_LEVELS = {"fast": 1.0, "mid": 0.8, "slow": 0.5}


def drifting_run(rounds: int = 12, missing: dict | None = None, seed: int = 3) -> dict:
    """Slices of three cells whose true ratios are known, under a host whose speed drifts
    from round to round by up to a factor of two (the slow part of the noise), plus 2% of
    fast noise per slice. `missing`: cell -> rounds it has no slice in."""
    rng = np.random.default_rng(seed)
    speed = np.exp(np.linspace(0.0, -0.7, rounds) + rng.normal(0, 0.15, rounds))
    slices: dict[str, dict] = {name: {} for name in TRUE_LEVELS}
    for r in range(rounds):
        for name, level in TRUE_LEVELS.items():
            if r + 1 in (missing or {}).get(name, ()):
                continue
            slices[name][(1, r + 1)] = 10_000 * level * speed[r] * float(np.exp(rng.normal(0, 0.02)))
    return slices


def test_the_blocked_ratio_recovers_the_true_ratio_where_medians_do_not():
    """mid misses the slow rounds at the end: its median is inflated by the drift, its blocked
    ratio is not."""
    slices = drifting_run(missing={"mid": range(7, 13)})
    blocked = stats.BlockedComparison(slices, anchor="fast").ratio("mid", "fast")
    assert blocked.value == pytest.approx(0.8, rel=0.02)
    assert blocked.ci95[0] <= 0.8 <= blocked.ci95[1]
    medians = {name: float(np.median(list(values.values()))) for name, values in slices.items()}
    assert abs(medians["mid"] / medians["fast"] / 0.8 - 1) > 0.10


def test_blocked_ranking_separates_what_medians_intervals_call_a_tie():
    slices = drifting_run()
    comparison = stats.BlockedComparison(slices, anchor="fast")
    ranks, adjacent = comparison.rank(slices)
    assert ranks == {"fast": 1, "mid": 2, "slow": 3}
    assert [(a, b) for a, b, _ in adjacent] == [("fast", "mid"), ("mid", "slow")]
    per_cell = {name: stats.estimate(list(values.values())) for name, values in slices.items()}
    assert stats.rank(per_cell)["mid"] == 1, "the unblocked intervals overlap under this drift"


def test_cells_in_different_groups_are_compared_through_the_anchor():
    """a and b never ran together; each ran with the anchor, under different drifts."""
    first, second = drifting_run(seed=1), drifting_run(seed=2)
    slices = {
        "fast": {**first["fast"], **{(2, r): v for (_, r), v in second["fast"].items()}},
        "mid": first["mid"],
        "slow": {(2, r): v for (_, r), v in second["slow"].items()},
    }
    comparison = stats.BlockedComparison(slices, anchor="fast")
    across = comparison.ratio("slow", "mid")
    assert not across.paired
    assert across.value == pytest.approx(0.5 / 0.8, rel=0.03)
    assert across.ci95[0] <= 0.625 <= across.ci95[1]
    assert across.half_width > comparison.ratio("slow", "fast").half_width


def test_equal_cells_tie_and_the_detectable_difference_is_reported():
    rng = np.random.default_rng(5)
    slices = {name: {(1, r): 1000 * float(np.exp(rng.normal(0, 0.05))) for r in range(1, 9)} for name in "ab"}
    comparison = stats.BlockedComparison(slices)
    ranks, _ = comparison.rank(slices)
    assert ranks == {"a": 1, "b": 1}
    assert 0 < comparison.smallest_detectable(slices) < 0.2


def test_two_slices_give_no_usable_interval_below_two_rounds():
    one = {"a": {(1, 1): 1000.0}, "b": {(1, 1): 900.0}}
    ratio = stats.BlockedComparison(one).ratio("b", "a")
    assert ratio.ci95 is None and not ratio.excludes_one()


def test_a_percentile_the_slices_are_too_short_for_is_left_out():
    """600 requests a slice: p99.9 would be each slice's slowest request, so it is not reported;
    p99 and the maximum are. At 1,000 it is."""
    def slices(requests):
        return [{"requests": requests, "latency_ms": {"p50": 10.0 + k, "p99": 40.0 + k, "p99.9": 90.0 + k,
                                                      "max": 90.0 + k}} for k in range(3)]
    short = stats.percentile_medians(slices(600))
    assert short == {"p50": 11.0, "p99": 41.0, "max": 91.0}
    assert stats.percentile_medians(slices(1000))["p99.9"] == 91.0
    assert "p99" not in stats.percentile_medians(slices(99))
    assert stats.percentile_medians([]) == {}
