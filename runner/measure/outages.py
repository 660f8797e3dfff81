"""Faults put in the path between the cells and PostgreSQL, from the same toxiproxy that adds
latency, and a prober that times each cell's recovery: used by `dbbench faults` and by a run's
--fault alike.

- `reset`: every connection between the cell and PostgreSQL dropped at once (the proxy is
  disabled and enabled again: what a restarting database or a failing network device does to a
  pool's idle connections);
- `outage`: PostgreSQL unreachable for a few seconds (the proxy refuses connections)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import httpx

from runner.db import proxy

PROBE_TIMEOUT_S = 2.0
STEADY = 20  # answers in a row that must be 200 for a cell to count as serving again
BASELINE_S = 1.0


@dataclass
class Prober:
    """Sequential lookups from a thread of their own; each answer kept with its start time."""

    base_url: str
    answers: list[tuple[float, str]] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.thread = threading.Thread(target=self.loop, daemon=True)

    def loop(self) -> None:
        with httpx.Client(timeout=PROBE_TIMEOUT_S) as client:
            while not self.stopping.is_set():
                started = time.monotonic()
                try:
                    outcome = str(client.get(f"{self.base_url}/users/1").status_code)
                except httpx.HTTPError as exc:
                    outcome = type(exc).__name__
                    time.sleep(0.05)
                self.answers.append((started, outcome))

    def __enter__(self) -> Prober:
        self.thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self.stopping.set()
        self.thread.join(PROBE_TIMEOUT_S + 1)

    def steady_since(self, after: float) -> float | None:
        """The start of the first run of STEADY 200s among the answers sent after `after`."""
        run_start, run = None, 0
        for started, outcome in self.answers[:]:
            if started < after:
                continue
            if outcome == "200":
                run_start = started if run == 0 else run_start
                run += 1
                if run >= STEADY:
                    return run_start
            else:
                run = 0
        return None

    def wait_steady(self, after: float, timeout_s: float) -> float | None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            found = self.steady_since(after)
            if found is not None:
                return found
            time.sleep(0.1)
        return None

    def counts(self, start: float, end: float) -> dict[str, int]:
        found: dict[str, int] = {}
        for started, outcome in self.answers[:]:
            if start <= started < end:
                found[outcome] = found.get(outcome, 0) + 1
        return found


def inject(fault: str, through: proxy.Proxy, outage_s: float) -> tuple[float, float]:
    """The fault; returns when it began and when the database was reachable again."""
    began = time.monotonic()
    through.set_enabled(False)
    if fault == "outage":
        time.sleep(outage_s)
    through.set_enabled(True)
    return began, time.monotonic()
