"""What a measuring command asks of a run (RunOptions, from the command line or a lesson), and
the defaults it falls back on: the budget, the precision, a constant rate's rounds."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from runner.cells import catalog

# For up to DEFAULT_BUDGET_CELLS cells (the default matrix); more cells, more time. 390 s keeps
# `make bench-db` under 7 minutes (397 s to 401 s, four runs on 3 December 2026; 400 s took
# 405 s and 410 s), and a run that tunes first measures for AFTER_TUNING_BUDGET_S, which keeps
# the first under 12 (672 s from a fresh clone, tuning 287 s). The longer a run, the narrower
# its ratios: each round is one more pair of slices close together in time.
DEFAULT_BUDGET_S = 390
AFTER_TUNING_BUDGET_S = 330
DEFAULT_BUDGET_CELLS = 7
QUICK_BUDGET_S = 60
DEFAULT_PRECISION = 0.03
RATE_ROUNDS = 3  # --rate without --rounds or --budget: a constant-rate run ranks nothing, so no precision target
# A constant-rate run's figures are latency percentiles, so it keeps the 1 s slices it had
# before runs moved to half a second: shorter ones halve the requests behind every percentile.
RATE_MIN_SLICE_S = 1

FAULT_AFTER_ROUND = 2  # --fault: two healthy rounds first, then the fault, then the rest

@dataclass
class RunOptions:
    frameworks: list[str] | None = None
    variants: list[str] | None = None
    everything: bool = False
    scenario: str = "by-id"
    connections: int | None = None
    slice_s: float | None = None
    rounds: int | None = None
    budget_s: float | None = None
    precision: float | None = None
    server_cpus: int = 1
    pool_size: int | None = None
    tuned_pools: dict[str, dict] | None = None  # cell name: {"pool", "why"}, from dbbench tune
    untuned_why: str | None = None  # why the cells with no tuned pool got the rule's
    tuned_first: bool = False  # this run tuned pools first: by default it measures for AFTER_TUNING_BUDGET_S
    db_url: str | None = None
    users: int | None = None
    out: Path | None = None
    quick: bool = False
    seed: int | None = None
    instances: int = 1  # 2 for an A/A calibration: the same cell started twice, as two cells
    spend_budget: bool = False  # no precision target: rounds until the budget is spent
    db_latency_ms: int = 0  # round-trip time toxiproxy adds between the cells and PostgreSQL
    target: str | None = None  # the base URL of the one selected cell, already serving on another host
    proxy: bool = False  # toxiproxy in the path even at 0 ms, so that a latency sweep compares like with like
    fault: str | None = None  # "reset" or "outage", injected through toxiproxy after round FAULT_AFTER_ROUND
    pooler: str | None = None  # "pgbouncer": a transaction pooler before PostgreSQL (runner/db/pooler.py)
    profile: bool = False  # py-spy on each cell's server, on slices of their own (runner/measure/profile.py)
    fault_s: float = 3.0  # how long an outage lasts
    rate: float | None = None  # requests per second at a constant rate (oha), in place of wrk's closed loop
    rates: dict[str, float] | None = None  # a constant rate per cell name (dbbench latency's steps)
    queries_n: int = 20  # lookups per request of the queries scenario (TechEmpower's n)
    points: tuple[str, list[int]] | None = None  # a paired sweep: (parameter, values), one instance per value
    parity: bool = False  # each cell beside its minimal app (apps/minimal/), measured paired (dbbench parity)
    only: list[str] | None = None  # of the selected cells, only these (the untuned ones a run tunes first)
    preset: str | None = None  # apps/presets.toml: its cells, and the paired prices its report shows
    short_warmup: bool = False  # 1 s of warm-up and no primer per instance: tuning's many instances of one cell
    pages: bool = True  # the HTML page and figures at the end; a run's own tuning leaves them to `dbbench report`

    @property
    def open_loop(self) -> bool:
        return self.rate is not None or self.rates is not None

    def selected_cells(self) -> list[catalog.Cell]:
        """The cells --frameworks, --variants and --all name, narrowed to `only` (a preset's cells,
        or the untuned ones a run tunes first)."""
        selected = catalog.manifest().select(self.frameworks, self.variants, self.everything)
        return selected if self.only is None else [cell for cell in selected if cell.name in self.only]


def default_budget(options: RunOptions) -> float:
    """The budget for DEFAULT_BUDGET_CELLS cells when none is given."""
    if options.quick:
        return QUICK_BUDGET_S
    return AFTER_TUNING_BUDGET_S if options.tuned_first else DEFAULT_BUDGET_S
