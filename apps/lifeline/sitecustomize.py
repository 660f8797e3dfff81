"""Every Python process of a cell dies with the process that started it.

The runner puts this folder first on a Python cell's PYTHONPATH, so Python imports this
module at the start of every process of the cell: the server, and each process it spawns
(uvicorn's and Sanic's workers, Sanic's multiprocessing manager, the resource tracker).
Forked children (gunicorn's workers, apps.servers.forked) get it again after each fork.
Linux's parent-death signal then kills a process the moment its parent dies, however the
parent died (SIGKILL included), so no worker is left holding its database pool.
"""

import ctypes
import os
import signal

PR_SET_PDEATHSIG = 1
SERVER_PID = "DBBENCH_SERVER_PID"  # set by apps.serve; every other process of the cell is its child
_parent_at_fork = None


def _die_with_parent(expected_parent=None):
    ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    server = int(os.environ.get(SERVER_PID) or 0)
    expected = expected_parent or (server if server and os.getpid() != server else None)
    if expected and os.getppid() != expected:
        os._exit(1)  # the parent died before the signal was set: it would never come


def _remember_parent():
    global _parent_at_fork
    _parent_at_fork = os.getpid()


_die_with_parent()
os.register_at_fork(before=_remember_parent, after_in_child=lambda: _die_with_parent(_parent_at_fork))
