"""Free TCP ports on loopback for the servers a command starts (cells, PostgreSQL, toxiproxy's
listeners), drawn below the kernel's ephemeral range so that no client's port takes one meanwhile."""

from __future__ import annotations

import random
import socket
from pathlib import Path

from runner.base.errors import DbbenchError


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


LISTEN_PORTS_FROM = 10000  # listeners' ports are drawn from here up to the ephemeral range
EPHEMERAL_DEFAULT = (32768, 60999)


def ephemeral_range() -> tuple[int, int]:
    """The ports the kernel gives outgoing connections as their source ports."""
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return EPHEMERAL_DEFAULT


def free_port() -> int:
    """A free port for a listener (a cell, toxiproxy, PostgreSQL), outside the ephemeral range.
    A port the kernel picks for bind(0) comes from that range, where an outgoing connection (a
    pool opening its connections) can take it between the pick and the listener's bind: a paired
    sweep of twelve instances lost one to "address already in use" that way."""
    ephemeral_low, ephemeral_high = ephemeral_range()
    choices = [(LISTEN_PORTS_FROM, ephemeral_low - 1), (ephemeral_high + 1, 65535)]
    low, high = max(choices, key=lambda bounds: bounds[1] - bounds[0])
    if high - low < 100:  # an ephemeral range that leaves no room: the kernel's pick, as before
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            return sock.getsockname()[1]
    chooser = random.SystemRandom()
    for _ in range(100):
        port = chooser.randint(low, high)
        if port_is_free(port):
            return port
    raise DbbenchError(f"no free port found between {low} and {high}")
