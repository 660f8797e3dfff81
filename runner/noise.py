"""Host noise, measured for every slice: the VM's steal time and the CPU that processes
outside the measurement used meanwhile.

On a shared VM the hypervisor takes CPU away from us (steal, /proc/stat's eighth field)
in bursts that last from seconds to minutes; other processes on the host take it too. A
slice disturbed beyond a threshold is flagged and, when it is part of a burst and the budget
allows, measured again (run.repeats_pay).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

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


@dataclass
class NoiseProbe:
    """Snapshot system-wide CPU times before a slice; `finish` tells what happened meanwhile."""

    started: float
    before: object

    @classmethod
    def start(cls) -> NoiseProbe:
        return cls(started=time.monotonic(), before=psutil.cpu_times())

    def finish(self, measured_cpu_s: float) -> dict:
        """`measured_cpu_s`: what server, load generator and PostgreSQL used in the slice."""
        after = psutil.cpu_times()
        wall = max(time.monotonic() - self.started, 1e-6)
        cores = psutil.cpu_count() or 1
        steal = getattr(after, "steal", 0.0) - getattr(self.before, "steal", 0.0)
        outside = max(0.0, _busy(after) - _busy(self.before) - measured_cpu_s)
        return {
            "steal": round(steal / (wall * cores), 4),
            "outside_cores": round(outside / wall, 3),
        }


def disturbed(noise: dict | None) -> bool:
    if not noise:
        return False
    return noise["steal"] > DISTURBED_STEAL or noise["outside_cores"] > DISTURBED_OUTSIDE_CORES
