"""Host noise, measured for every slice: the VM's steal time and the CPU that processes
outside the measurement used meanwhile.

On a shared VM the hypervisor takes CPU away from us (steal, /proc/stat's eighth field)
in bursts that last from seconds to minutes; other processes on the host take it too. A
slice disturbed beyond a threshold is flagged and, when it is part of a burst and the budget
allows, measured again (run.repeats_pay).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

import psutil

# Thresholds for a disturbed slice: steal as a share of all CPUs' time, and cores used
# outside server, load generator and PostgreSQL.
DISTURBED_STEAL = 0.10
DISTURBED_OUTSIDE_CORES = 0.30


def _busy(times) -> float:
    """CPU seconds processes spent, in user and system mode: what psutil reports for ours, so
    the difference is other processes. Interrupt time is left out: on loopback most of it
    (softirq) is our own requests' network processing, which no process is charged for."""
    return times.user + times.nice + times.system


PF_KTHREAD = 0x00200000  # /proc/PID/stat's flags: a kernel thread
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
NAMED_SOURCES = 3  # the heaviest kernel threads and other processes named in each slice's noise
RUNNER = "runner"  # this process: the dbbench command measuring the slice
IDLE_CELLS = "idle cells"  # the other warm cells of the group, waiting for their slices


@dataclass(frozen=True)
class Seen:
    """One process as /proc/PID/stat shows it."""

    name: str
    kernel: bool  # a kernel thread
    cpu_s: float  # user + system
    born: int  # its start time, in clock ticks after boot
    parent: int


def process_times() -> dict[int, Seen]:
    """Every process, from one read of /proc/PID/stat each: about 1 ms of CPU for 70 processes
    here, taken outside the slice. The start time tells a process from a later one with its
    pid; the name does not (a kernel worker names its current work: kworker/u8:1-writeback,
    then -events_unbound)."""
    found = {}
    with os.scandir("/proc") as entries:
        for entry in entries:
            if not entry.name.isdigit():
                continue
            try:
                with open(f"/proc/{entry.name}/stat", "rb") as stat:
                    data = stat.read()
            except OSError:  # gone meanwhile
                continue
            head, _, rest = data.rpartition(b")")
            fields = rest.split()
            found[int(entry.name)] = Seen(head.partition(b"(")[2].decode(errors="replace"),
                                          bool(int(fields[6]) & PF_KTHREAD),
                                          (int(fields[11]) + int(fields[12])) / CLOCK_TICKS, int(fields[19]),
                                          int(fields[1]))
    return found


def own_cpu_s() -> float:
    times = os.times()
    return times.user + times.system


@dataclass
class NoiseProbe:
    """Snapshot system-wide CPU times before a slice; `finish` tells what happened meanwhile,
    and who outside the measured parties used it: this runner, kernel threads by name, other
    processes by name, and what none of those accounts for (processes that came and went)."""

    started: float
    before: object
    own_before: float
    processes_before: dict[int, Seen] = field(repr=False)

    @classmethod
    def start(cls) -> NoiseProbe:
        processes = process_times()  # read before the window opens: its cost is not the slice's
        return cls(started=time.monotonic(), before=psutil.cpu_times(), own_before=own_cpu_s(),
                   processes_before=processes)

    def finish(self, measured_cpu_s: float, measured_trees: set[int] = frozenset(),
               idle_trees: set[int] = frozenset()) -> dict:
        """`measured_cpu_s`: what server, load generator and PostgreSQL used in the slice;
        `measured_trees`: the root processes of those parties (a cell's, the postmaster): they
        and every process below them, as this look finds them, are not outside it;
        `idle_trees`: the other warm cells', whose CPU is named "idle cells"."""
        after, own = psutil.cpu_times(), own_cpu_s()
        wall = max(time.monotonic() - self.started, 1e-6)
        processes = process_times()
        measured, idle = descendants(processes, measured_trees), descendants(processes, idle_trees)
        cores = psutil.cpu_count() or 1
        steal = getattr(after, "steal", 0.0) - getattr(self.before, "steal", 0.0)
        outside = max(0.0, _busy(after) - _busy(self.before) - measured_cpu_s)
        kernel: dict[str, float] = {}
        other: dict[str, float] = {}
        idle_s = 0.0
        for pid, seen in processes.items():
            if pid == os.getpid() or pid in measured:
                continue
            earlier = self.processes_before.get(pid)
            used = seen.cpu_s - (earlier.cpu_s if earlier and earlier.born == seen.born else 0.0)  # else born in it
            if used > 0 and pid in idle:
                idle_s += used
            elif used > 0:
                into = kernel if seen.kernel else other
                into[seen.name] = into.get(seen.name, 0.0) + used
        runner = max(0.0, own - self.own_before)
        named = runner + idle_s + sum(kernel.values()) + sum(other.values())
        return {
            "steal": round(steal / (wall * cores), 4),
            "outside_cores": round(outside / wall, 3),
            "outside_by_source": {
                RUNNER: round(runner / wall, 3),
                IDLE_CELLS: round(idle_s / wall, 3),
                "kernel": heaviest(kernel, wall),
                "other": heaviest(other, wall),
                "unattributed": round(max(0.0, outside - named) / wall, 3),
            },
        }


def descendants(processes: dict[int, Seen], roots: set[int]) -> set[int]:
    """The roots and every process below them."""
    children: dict[int, list[int]] = {}
    for pid, seen in processes.items():
        children.setdefault(seen.parent, []).append(pid)
    found, pending = set(), [root for root in roots if root in processes]
    while pending:
        pid = pending.pop()
        if pid not in found:
            found.add(pid)
            pending.extend(children.get(pid, []))
    return found


def heaviest(used: dict[str, float], wall: float) -> dict[str, float]:
    """The NAMED_SOURCES heaviest, in cores, and the rest together as "(rest)"."""
    ranked = sorted(used.items(), key=lambda item: -item[1])
    shown = {name: round(seconds / wall, 3) for name, seconds in ranked[:NAMED_SOURCES]}
    rest = sum(seconds for _, seconds in ranked[NAMED_SOURCES:])
    return {**shown, **({"(rest)": round(rest / wall, 3)} if rest else {})}


def disturbed(noise: dict | None) -> bool:
    if not noise:
        return False
    return noise["steal"] > DISTURBED_STEAL or noise["outside_cores"] > DISTURBED_OUTSIDE_CORES
