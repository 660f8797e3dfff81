"""Statistics on known inputs: ties tie, clear gaps rank, intervals behave."""

import numpy as np
import pytest

from runner import statistics


def test_interval_contains_the_mean_and_shrinks_with_agreement():
    noisy = statistics.estimate([900, 1000, 1100])
    tight = statistics.estimate([990, 1000, 1010])
    assert noisy.ci95[0] < noisy.mean < noisy.ci95[1]
    assert tight.half_width < noisy.half_width
    assert noisy.median == 1000
    assert noisy.cv == pytest.approx(0.1)


def test_a_single_round_has_no_interval_and_ties_with_anything():
    single = statistics.estimate([1000])
    assert single.ci95 is None
    assert single.overlaps(statistics.estimate([5000, 5001, 5002]))


def test_overlapping_cells_tie():
    ranks = statistics.rank({
        "a": statistics.estimate([1000, 1050, 980]),
        "b": statistics.estimate([1010, 990, 1040]),
    })
    assert ranks == {"a": 1, "b": 1}


def test_a_two_fold_gap_ranks():
    ranks = statistics.rank({
        "slow": statistics.estimate([1000, 1020, 990]),
        "fast": statistics.estimate([2000, 2030, 1985]),
        "slow-twin": statistics.estimate([1005, 995, 1012]),
    })
    assert ranks["fast"] == 1
    assert ranks["slow"] == ranks["slow-twin"] == 2
    assert statistics.significant(statistics.estimate([1000, 1020, 990]), statistics.estimate([2000, 2030, 1985]))


def test_interval_is_cut_at_zero():
    wild = statistics.estimate([10, 1000])
    assert wild.ci95[0] == 0.0


def test_busy_flags():
    rounds = [{"duration_s": 10, "cpu_seconds": {"wrk": 9.5, "server": 10, "postgres": 2}}]
    assert statistics.busy_flags(rounds, wrk_threads=1, cores=4, server_cpus=1) == ["client-bound"]
    rounds = [{"duration_s": 10, "cpu_seconds": {"wrk": 2, "server": 10, "postgres": 19}}]
    assert statistics.busy_flags(rounds, wrk_threads=1, cores=4, server_cpus=1) == ["db-bound"]


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
    blocked = statistics.BlockedComparison(slices, anchor="fast").ratio("mid", "fast")
    assert blocked.value == pytest.approx(0.8, rel=0.02)
    assert blocked.ci95[0] <= 0.8 <= blocked.ci95[1]
    medians = {name: float(np.median(list(values.values()))) for name, values in slices.items()}
    assert abs(medians["mid"] / medians["fast"] / 0.8 - 1) > 0.10


def test_blocked_ranking_separates_what_medians_intervals_call_a_tie():
    slices = drifting_run()
    comparison = statistics.BlockedComparison(slices, anchor="fast")
    ranks, adjacent = comparison.rank(slices)
    assert ranks == {"fast": 1, "mid": 2, "slow": 3}
    assert [(a, b) for a, b, _ in adjacent] == [("fast", "mid"), ("mid", "slow")]
    per_cell = {name: statistics.estimate(list(values.values())) for name, values in slices.items()}
    assert statistics.rank(per_cell)["mid"] == 1, "the unblocked intervals overlap under this drift"


def test_cells_in_different_groups_are_compared_through_the_anchor():
    """a and b never ran together; each ran with the anchor, under different drifts."""
    first, second = drifting_run(seed=1), drifting_run(seed=2)
    slices = {
        "fast": {**first["fast"], **{(2, r): v for (_, r), v in second["fast"].items()}},
        "mid": first["mid"],
        "slow": {(2, r): v for (_, r), v in second["slow"].items()},
    }
    comparison = statistics.BlockedComparison(slices, anchor="fast")
    across = comparison.ratio("slow", "mid")
    assert not across.paired
    assert across.value == pytest.approx(0.5 / 0.8, rel=0.03)
    assert across.ci95[0] <= 0.625 <= across.ci95[1]
    assert across.half_width > comparison.ratio("slow", "fast").half_width


def test_equal_cells_tie_and_the_detectable_difference_is_reported():
    rng = np.random.default_rng(5)
    slices = {name: {(1, r): 1000 * float(np.exp(rng.normal(0, 0.05))) for r in range(1, 9)} for name in "ab"}
    comparison = statistics.BlockedComparison(slices)
    ranks, _ = comparison.rank(slices)
    assert ranks == {"a": 1, "b": 1}
    assert 0 < comparison.smallest_detectable(slices) < 0.2


def test_two_slices_give_no_usable_interval_below_two_rounds():
    one = {"a": {(1, 1): 1000.0}, "b": {(1, 1): 900.0}}
    ratio = statistics.BlockedComparison(one).ratio("b", "a")
    assert ratio.ci95 is None and not ratio.excludes_one()
