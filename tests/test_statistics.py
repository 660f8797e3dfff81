"""Statistics on known inputs: ties tie, clear gaps rank, intervals behave."""

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
