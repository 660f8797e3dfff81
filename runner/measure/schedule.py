"""The shape of a run: which cells are up together (groups), and when to stop adding rounds.

Cells stay up while their group is measured, so a group is as many cells as fit under the
server's connection limit at their pool sizes. When a run needs several groups, every
group also holds the same anchor cell, through which cells of different groups are
compared (runner/report/stats.py). Rounds are added until every reported ratio is as
precise as asked, or the time budget is spent; the run says which.
"""

from __future__ import annotations

from dataclasses import dataclass

from runner.base.errors import DbbenchError

MIN_ROUNDS = 3  # Student's t with 2 degrees of freedom: the fewest that give a usable interval
MIN_ROUNDS_ON_BUDGET = 2  # a group always gets this many, or it would have no interval at all


def check_fits(needs: dict[str, int], available: int, limit: int | None = None) -> None:
    """Every cell (name -> connections it holds) must fit under the server's limit by itself,
    or its pool cannot fill."""
    shown = f" (max_connections {limit})" if limit else ""
    for name, need in needs.items():
        if need > available:
            raise DbbenchError(f"{name} would open {need} connections but the server allows {available} for it"
                               f"{shown}: lower --connections or --pool-size, or raise max_connections")


def plan_groups(needs: dict[str, int], available: int, anchor: str | None,
                pairs: list[list[str]] | None = None) -> list[list[str]]:
    """Pack cells (name -> connections it holds) into groups that fit in `available`
    connections, in the given order; with more than one group, each holds the anchor. With
    `pairs` (a cell and its minimal app), each pair is a group of its own and there is no
    anchor: every ratio such a run reports is within a pair, whose slices then alternate, each
    next to the other's (among eight cells, 0.5 s slices paired a cell with its minimal app to
    ±18% after 23 rounds, 6 December 2026)."""
    if pairs is not None:
        check_fits({" and ".join(pair): sum(needs[name] for name in pair) for pair in pairs}, available)
        return [list(pair) for pair in pairs]
    check_fits(needs, available)
    if sum(needs.values()) <= available:
        return [list(needs)]
    if anchor is None:
        anchor = next(iter(needs))
    reserved = needs[anchor]
    groups: list[list[str]] = []
    current: list[str] = [anchor]
    used = reserved
    for name, need in needs.items():
        if name == anchor:
            continue
        if used + need > available and len(current) > 1:
            groups.append(current)
            current, used = [anchor], reserved
        if used + need > available:
            raise DbbenchError(f"{name} and the anchor {anchor} together need {reserved + need} connections, "
                               f"more than the {available} the server allows: lower --connections or --pool-size")
        current.append(name)
        used += need
    groups.append(current)
    return groups


@dataclass
class StoppingRule:
    """Fixed rounds (`rounds`), or rounds until `precision` (a relative half-width, 0.03 for
    ±3%) is reached by every reported ratio, within `budget_s` seconds."""

    budget_s: float
    precision: float | None
    rounds: int | None = None

    def share(self, elapsed_s: float, group_cells: int, remaining_cells: int) -> float:
        """The deadline (seconds since the start) of a group: its share of what is left."""
        left = max(0.0, self.budget_s - elapsed_s)
        return elapsed_s + left * group_cells / max(remaining_cells, 1)

    def decide(self, rounds_done: int, now_s: float, deadline_s: float, round_s: float,
               worst_half_width: float | None) -> str | None:
        """None to go on, else why this group stops."""
        if self.rounds is not None:
            return "rounds done" if rounds_done >= self.rounds else None
        if (self.precision is not None and rounds_done >= MIN_ROUNDS and worst_half_width is not None
                and worst_half_width <= self.precision):
            return "precision reached"
        if rounds_done >= MIN_ROUNDS_ON_BUDGET and now_s + round_s > deadline_s:
            return "budget spent"
        return None
