"""Groups under the connection limit, and the rule that stops adding rounds."""

import pytest

from runner.base.errors import DbbenchError
from runner.measure import schedule
from runner.report import results


def test_cells_that_fit_are_one_group():
    assert schedule.plan_groups({"a": 72, "b": 72, "c": 72}, available=592, anchor="a") == [["a", "b", "c"]]


def test_groups_fit_under_the_limit_and_every_group_holds_the_anchor():
    needs = {f"cell{i}": 72 for i in range(20)} | {"gin/raw": 72}
    groups = schedule.plan_groups(needs, available=300, anchor="gin/raw")
    assert len(groups) > 1
    for group in groups:
        assert group[0] == "gin/raw"
        assert sum(needs[name] for name in group) <= 300
    others = [name for group in groups for name in group[1:]]
    assert sorted(others) == sorted(name for name in needs if name != "gin/raw")


def test_a_cell_that_cannot_fit_with_the_anchor_is_a_clear_error():
    with pytest.raises(DbbenchError, match="connections"):
        schedule.plan_groups({"a": 100, "b": 600}, available=592, anchor="a")
    with pytest.raises(DbbenchError, match="together need"):
        schedule.plan_groups({"a": 300, "b": 200, "c": 300}, available=592, anchor="a")


def test_the_rule_stops_at_the_precision_target():
    rule = schedule.StoppingRule(budget_s=300, precision=0.05)
    assert rule.decide(2, now_s=10, deadline_s=300, round_s=20, worst_half_width=0.01) is None, "too few rounds"
    assert rule.decide(3, now_s=10, deadline_s=300, round_s=20, worst_half_width=0.06) is None
    assert rule.decide(3, now_s=10, deadline_s=300, round_s=20, worst_half_width=0.05) == "precision reached"
    assert rule.decide(5, now_s=10, deadline_s=300, round_s=20, worst_half_width=None) is None


def test_the_rule_stops_when_the_next_round_would_pass_the_budget():
    rule = schedule.StoppingRule(budget_s=300, precision=0.01)
    assert rule.decide(6, now_s=270, deadline_s=300, round_s=20, worst_half_width=0.2) is None
    assert rule.decide(6, now_s=285, deadline_s=300, round_s=20, worst_half_width=0.2) == "budget spent"
    assert rule.decide(1, now_s=400, deadline_s=300, round_s=20, worst_half_width=None) is None, \
        "two rounds at least, or there is no interval at all"


def test_fixed_rounds_ignore_precision_and_budget():
    rule = schedule.StoppingRule(budget_s=1, precision=0.5, rounds=4)
    assert rule.decide(3, now_s=100, deadline_s=1, round_s=20, worst_half_width=0.0) is None
    assert rule.decide(4, now_s=0, deadline_s=1, round_s=20, worst_half_width=None) == "rounds done"


def test_groups_share_what_is_left_of_the_budget():
    rule = schedule.StoppingRule(budget_s=300, precision=0.03)
    assert rule.share(elapsed_s=0, group_cells=2, remaining_cells=6) == pytest.approx(100)
    assert rule.share(elapsed_s=60, group_cells=4, remaining_cells=4) == pytest.approx(300)


def test_a_ratio_with_a_cell_of_a_later_group_does_not_hold_a_group_back():
    """A preset's price between a cell measured now and one of the next group has no interval
    until that group runs; the group's own ratios decide when it has measured enough."""
    document = {"cells": [{"name": "a", "status": "ok", "slices": [{}]}, {"name": "c", "status": "ok", "slices": [{}]},
                          {"name": "later", "status": "ok", "slices": []}],
                "summary": {"comparisons": [{"a": "a", "b": "c", "half_width": 0.02},
                                            {"a": "later", "b": "a", "half_width": None}]}}
    assert results.worst_half_width(document, ["a", "c"]) == 0.02
    document["cells"][2]["slices"] = [{}]  # measured, and still without an interval: it holds the group back
    assert results.worst_half_width(document, ["a", "c"]) is None
    assert results.worst_half_width(document, ["a", "c", "later"]) is None
