"""What a slice leaves behind: the requests in flight when its load generator stops.

wrk and oha stop with up to one request per connection still in the server, which goes on
serving them after their clients are gone. At 64 connections that is tens of milliseconds
of work, done before the next slice starts. At 1,024 connections and +5 ms to PostgreSQL
it was seconds: in the committed "what asyncio buys" sweep, a slice measured right after a
1,024-connection slice made 0.80× its cell's median (mean log ratio -0.23, 30 slices),
against 0.97–1.03× after 16, 64 or 256. The next slice then measures someone else's backlog.

So a slice first waits until the server the last load ran against is idle. Little's law
bounds the wait: at most `connections` requests, served at the slice's own rate, take
`connections / rps` seconds. When that much time has already gone by, nothing is looked at;
otherwise the server is looked at in 10 ms windows until one finds it idle.
"""

from __future__ import annotations

import itertools
import math
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

# A server is idle when, over 10 ms, its threads ran or waited to run for less than a fifth of
# that time. psutil's CPU times count whole clock ticks of 10 ms, too coarse for so short a
# look: the kernel's per-thread schedstat counts nanoseconds, and counts the time a thread was
# ready but not running too, so a busy server that something else kept off the CPU for 10 ms is
# still busy. With 50 ms looks at ticks, 142 of the 143 waits of a default run found the
# server idle at the first look, and the looks cost 7.3 s beside 270 one-second slices.
WINDOW_S = 0.01
IDLE_SHARE = 0.2
GIVE_UP_FACTOR = 2.0
GIVE_UP_EXTRA_S = 0.5
LONGEST_BOUND_S = 10.0  # a backlog longer than this would spoil any slice after it; the wait gives up


@dataclass
class Backlog:
    """A load that just stopped: the server's processes, when it stopped, and how long its
    abandoned requests can take at most (Little's law at the load's measured rate)."""

    processes: list[psutil.Process]
    stopped: float
    bound_s: float

    @classmethod
    def after(cls, processes: list[psutil.Process] | None, connections: int, rps: float,
              stopped: float | None = None) -> Backlog | None:
        """None when there is nothing to wait for: a remote server (no processes to watch)."""
        if not processes:
            return None
        # A load that served nothing gives no rate to bound its backlog by: the longest bound.
        bound = min(connections / rps, LONGEST_BOUND_S) if rps > 0 else LONGEST_BOUND_S
        return cls(processes, time.monotonic() if stopped is None else stopped, bound)

    def due(self, now: float) -> bool:
        """Whether the abandoned requests may still be running."""
        return now < self.stopped + self.bound_s

    def give_up_at(self) -> float:
        return self.stopped + GIVE_UP_FACTOR * self.bound_s + GIVE_UP_EXTRA_S


def demand_ns(processes: list[psutil.Process]) -> int:
    """Nanoseconds running or ready to run, summed over every thread of the processes (the first
    two fields of /proc/PID/task/TID/schedstat); threads and processes that are gone are left out."""
    total = 0
    for process in processes:
        try:
            threads = list(Path(f"/proc/{process.pid}/task").iterdir())
        except FileNotFoundError:
            continue
        for thread in threads:
            try:
                running, waiting = (thread / "schedstat").read_text().split()[:2]
                total += int(running) + int(waiting)
            except (FileNotFoundError, ProcessLookupError):
                continue
    return total


def busy_share(processes: list[psutil.Process], window_s: float) -> float:
    """The share of the next `window_s` the processes' threads spent running or ready to run."""
    before = demand_ns(processes)
    began = time.monotonic()
    time.sleep(window_s)
    return (demand_ns(processes) - before) / 1e9 / (time.monotonic() - began)


def settle(backlogs: list[Backlog | None], window_s: float = WINDOW_S) -> dict:
    """Wait until every server that may still be serving an abandoned load is idle, or until
    twice its bound has passed. Returns what the slice records: seconds waited, and whether
    the servers went idle (False: it gave up, and the slice may measure a backlog)."""
    pending = [backlog for backlog in backlogs if backlog is not None and backlog.due(time.monotonic())]
    began = time.monotonic()
    if not pending:
        return {"waited_s": 0.0, "settled": True}
    processes = [process for backlog in pending for process in backlog.processes]
    give_up_at = max(backlog.give_up_at() for backlog in pending)
    settled = False
    while not settled and time.monotonic() < give_up_at:
        settled = busy_share(processes, window_s) < IDLE_SHARE
    return {"waited_s": round(time.monotonic() - began, 3), "settled": settled}


def after_heavy(document: dict, heavy: set[str]) -> dict[str, float | int | None]:
    """How slices measured right after a slice of the `heavy` instances did, against those after
    any other: each slice's throughput over its instance's median, as a geometric mean. Read
    from a run's stored slices, so a page can show whether a backlog still reached the next
    slice. The first slice of each group follows only the warm-ups and is left out."""
    medians = {cell["name"]: statistics.median([piece["rps"] for piece in cell["slices"]])
               for cell in document["cells"] if cell.get("slices")}
    ordered = sorted(((piece["group"], piece["started_s"], cell["name"], piece)
                      for cell in document["cells"] for piece in cell.get("slices") or []
                      if piece.get("started_s") is not None), key=lambda item: item[:2])
    logs: dict[bool, list[float]] = {True: [], False: []}
    for (group, _, before, _), (next_group, _, name, piece) in itertools.pairwise(ordered):
        if group == next_group and piece["rps"] > 0 and medians[name] > 0:
            logs[before in heavy].append(math.log(piece["rps"] / medians[name]))

    def mean_ratio(values: list[float]) -> float | None:
        return round(math.exp(statistics.fmean(values)), 3) if values else None

    return {"after_heavy": mean_ratio(logs[True]), "after_heavy_n": len(logs[True]),
            "after_others": mean_ratio(logs[False]), "after_others_n": len(logs[False])}
