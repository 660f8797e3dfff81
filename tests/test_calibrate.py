"""The A/A verdict on synthetic slices: instances of one cell, with and without a real difference."""

from itertools import combinations

import numpy as np
import pytest

from runner.base.errors import DbbenchError
from runner.experiments import calibrate
from runner.report import stats

NOISE = {"steal_median": 0.0, "steal_worst": 0.01, "disturbed": 0, "slices": 0}


def document(levels: list[float], rounds: int = 40, seed: int = 3) -> dict:
    """Instances at the given levels, every round moved by a shared drift and each slice by
    its own noise (sd 0.1 in logs, as a 1 s slice here)."""
    rng = np.random.default_rng(seed)
    drift = rng.normal(0, 0.3, rounds)
    def rps(level: float, round_index: int) -> float:
        return float(1000 * level * np.exp(drift[round_index] + rng.normal(0, 0.1)))

    cells = [{"name": f"fastapi/raw ({chr(ord('A') + i)})", "clean": True, "reason": None,
              "slices": [{"group": 1, "round": r + 1, "rps": rps(level, r)} for r in range(rounds)]}
             for i, level in enumerate(levels)]
    return {"cells": cells, "metadata": {"run": {"anchor": None}}, "summary": {"noise": NOISE}}


def test_two_instances_read_as_before_one_ratio_and_its_half_width():
    found = calibrate.analyse(document([1.0, 1.0]), 0.95)
    assert found.pairs == 1 and found.pair_confidence == pytest.approx(0.95)
    assert found.contains_one
    ratio = found.to_first["fastapi/raw (B)"]
    assert found.noise_floor == pytest.approx(ratio.half_width)
    text = calibrate.render(found, "fastapi/raw", 1)
    assert "the interval contains 1" in text and "40 rounds of 1 s" in text


def test_seven_equal_instances_fail_together_about_as_often_as_the_confidence_allows():
    """21 pairs each at 95% would fail an honest A/A of seven most of the time; together at 95%,
    about one time in twenty or less (the pairs are correlated, so Bonferroni is cautious)."""
    trials = 200
    found = [calibrate.analyse(document([1.0] * 7, seed=seed), 0.95) for seed in range(trials)]
    assert found[0].pairs == 21 and found[0].pair_confidence == pytest.approx(1 - 0.05 / 21)
    failed = sum(not each.contains_one for each in found)
    assert failed <= 0.08 * trials, failed
    each_at_95 = sum(any(ratio.excludes_one() for _, _, ratio in pairs_at(document([1.0] * 7, seed=seed), 0.95))
                     for seed in range(trials))
    assert each_at_95 >= 3 * max(failed, 5), (each_at_95, failed)
    passing = next(each for each in found if each.contains_one)
    assert "every pair's interval contains 1 at 95% over all 21 pairs together" in \
        calibrate.render(passing, "fastapi/raw", 1)


def pairs_at(found: dict, confidence: float) -> list:
    """Every pair's ratio at `confidence` on its own, without the correction."""
    blocks = {c["name"]: {(s["group"], s["round"]): s["rps"] for s in c["slices"]} for c in found["cells"]}
    comparison = stats.BlockedComparison(blocks, confidence=confidence)
    return [(a, b, comparison.ratio(b, a)) for a, b in combinations(blocks, 2)]


def test_an_instance_started_apart_is_named():
    """The same slices with G moved 15% down: the verdict names G's six pairs, and only them."""
    seed = next(seed for seed in range(20)
                if calibrate.analyse(document([1.0] * 7, seed=seed), 0.95).contains_one)
    apart = calibrate.analyse(document([1.0] * 6 + [0.85], seed=seed), 0.95)
    assert not apart.contains_one
    assert {b for _, b, _ in apart.excluding} == {"fastapi/raw (G)"}, "only the pairs with G differ"
    text = calibrate.render(apart, "fastapi/raw", 1)
    assert "6 of 21 pairs EXCLUDE 1" in text and "G/A 0.8" in text


def test_an_instance_that_was_not_measured_is_named():
    broken = document([1.0, 1.0, 1.0])
    broken["cells"][1].update(clean=False, reason="verification: wrong value")
    with pytest.raises(DbbenchError, match=r"fastapi/raw \(B\): verification: wrong value"):
        calibrate.analyse(broken, 0.95)
