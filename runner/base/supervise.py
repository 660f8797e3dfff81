"""Process supervision: what we start dies with us, and SIGTERM or SIGHUP stops us like Ctrl-C.

A child in a session of its own (so that its workers can be stopped as one group) would
outlive a CLI that is killed outright. The kernel's parent-death signal closes that gap:
set in the child between fork and exec, it kills the child the moment the process that
started it dies, whatever killed it. Server workers set it again for their own parent
(apps/contract.py), so a whole cell goes down with the CLI.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
from contextlib import contextmanager

PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True)


class Interrupted(KeyboardInterrupt):
    """Ctrl-C, SIGTERM or SIGHUP: the command stops what it started, keeps what it finished,
    and exits 128 + the signal's number (130 for SIGINT, 143 for SIGTERM)."""

    def __init__(self, signum: int = signal.SIGINT):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


def exit_code_of(exc: KeyboardInterrupt) -> int:
    return exc.exit_code if isinstance(exc, Interrupted) else 128 + signal.SIGINT


_received: list[Interrupted] = []


def _raise_interrupted(signum, _frame):
    """Raise at once, and remember: an exception raised while a finalizer runs (a __del__
    that logs, say) is printed and dropped by Python, so loops also ask raise_if_interrupted()."""
    _received.append(Interrupted(signum))
    raise _received[-1]


def raise_if_interrupted() -> None:
    """Raise the signal received earlier, if any: the run's loops call this between steps,
    so that an interrupt Python swallowed still stops the command."""
    if _received:
        raise _received[-1]


@contextmanager
def stop_on_signals():
    """SIGTERM, SIGINT and SIGHUP (the terminal or SSH connection gone: a cluster run's app
    host) raise Interrupted in the main thread while the block runs."""
    previous = {sig: signal.signal(sig, _raise_interrupted) for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        _received.clear()


def die_with_parent(parent_pid: int):
    """A Popen preexec_fn: SIGKILL this child when `parent_pid` dies; a parent already gone
    (it died between fork and here) means exit at once."""

    def preexec() -> None:
        _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent_pid:
            os._exit(1)

    return preexec


def session_dying_with_parent():
    """preexec_fn for a cell: a session (process group) of its own, and death with its parent."""
    on_parent_death = die_with_parent(os.getpid())

    def preexec() -> None:
        os.setsid()
        on_parent_death()

    return preexec


def stop_process(process, grace_s: float = 5.0) -> None:
    """Terminate a helper we started (a subprocess.Popen) and reap it: killed if it has not
    ended within `grace_s`."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
