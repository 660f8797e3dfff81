"""Each host's clock offset from the controller, over the same SSH Ansible uses.

NTP's idea on one connection: read the host's clock between two of ours, several times on
one open SSH channel, and keep the sample with the shortest round trip. The offset is
the host's time less the midpoint of ours; it is known to within half that round trip.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass

from runner.base.errors import DbbenchError
from runner.cluster.inventory import Host

SAMPLES = 8
# On the host: answer each line read with its clock, on one SSH channel kept open, so that a
# sample's round trip is the network's, not the cost of opening a session.
ECHO_CLOCK = "import sys, time\nfor _ in sys.stdin:\n    print(repr(time.time()), flush=True)"


@dataclass(frozen=True)
class Offset:
    seconds: float  # the host's clock less the controller's
    uncertainty_s: float  # half the round trip of the sample it comes from


def fastest(read_clock: Callable[[], float], samples: int = SAMPLES) -> Offset:
    """The offset from the round trip that took least time among `samples` reads of a clock.
    One read more is taken first and left out: it opens the way (a channel, a connection)."""
    best: Offset | None = None
    for sample in range(samples + 1):
        sent = time.time()
        theirs = read_clock()
        received = time.time()
        found = Offset(theirs - (sent + received) / 2, (received - sent) / 2)
        if sample and (best is None or found.uncertainty_s < best.uncertainty_s):
            best = found
    return best


def offset_of(host: Host) -> Offset:
    import shlex

    echo = subprocess.Popen([*host.ssh_argv(), f"python3 -u -c {shlex.quote(ECHO_CLOCK)}"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def read_clock() -> float:
        echo.stdin.write("\n")
        echo.stdin.flush()
        answer = echo.stdout.readline()
        if not answer:
            detail = (echo.stderr.read().strip().splitlines() or ["no answer"])[-1]
            raise DbbenchError(f"host {host.name}: reading its clock over ssh failed: {detail}")
        return float(answer)

    try:
        return fastest(read_clock)
    finally:
        echo.stdin.close()
        try:
            echo.wait(timeout=10)
        except subprocess.TimeoutExpired:
            echo.kill()
            echo.wait()
