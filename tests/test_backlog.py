"""A slice waits out what the last load left in its server, with a real busy process."""

import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from runner.measure import backlog

SPIN = ("import sys, time\nend = time.monotonic() + float(sys.argv[1])\nprint('spinning', flush=True)\n"
        "while time.monotonic() < end: pass\ntime.sleep(60)")


@pytest.fixture
def spinner():
    """A process that burns a core for the given seconds, then sleeps: a server working
    through abandoned requests, then idle."""
    started = []

    def start(seconds: float) -> psutil.Process:
        child = subprocess.Popen([sys.executable, "-c", SPIN, str(seconds)], stdout=subprocess.PIPE, text=True)
        started.append(child)
        assert child.stdout.readline() == "spinning\n"
        return psutil.Process(child.pid)

    yield start
    for child in started:
        child.kill()
        child.wait()
        child.stdout.close()


def test_a_busy_server_is_waited_for_until_it_is_idle(spinner):
    server = spinner(0.6)
    waited = backlog.settle([backlog.Backlog.after([server], connections=20, rps=10)])
    assert waited["settled"] is True
    assert 0.4 <= waited["waited_s"] < 2.0, waited
    assert server.is_running(), "still there, idle: a wait ends on idleness, not on an exit"


def test_a_server_busy_on_a_thread_other_than_its_first_is_busy():
    """A threaded server (gunicorn's gthread, Gin) works on threads other than its first, whose
    own counters alone would call it idle."""
    code = ("import threading, time\n"
            "def spin():\n    end = time.monotonic() + 30\n    while time.monotonic() < end: pass\n"
            "threading.Thread(target=spin, daemon=True).start()\nprint('spinning', flush=True)\ntime.sleep(60)")
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline() == "spinning\n"
        server = psutil.Process(child.pid)
        assert backlog.busy_share([server], 0.2) > 0.5
        assert int(Path(f"/proc/{child.pid}/schedstat").read_text().split()[0]) < 0.1e9, "its first thread sleeps"
    finally:
        child.kill()
        child.wait()
        child.stdout.close()


def test_nothing_is_polled_once_littles_bound_has_passed(spinner):
    server = spinner(30)
    long_ago = time.monotonic() - 5
    waited = backlog.settle([backlog.Backlog.after([server], connections=10, rps=100, stopped=long_ago)])
    assert waited == {"waited_s": 0.0, "settled": True}, "0.1 s of abandoned work ended 5 s ago"


def test_a_server_that_never_goes_idle_is_given_up_on_and_said_so(spinner):
    server = spinner(30)
    began = time.monotonic()
    waited = backlog.settle([backlog.Backlog.after([server], connections=2, rps=10)])
    assert waited["settled"] is False
    assert 0.8 <= time.monotonic() - began < 2.0, "twice the bound of 0.2 s, plus 0.5 s"


def test_a_remote_server_or_a_dead_one_costs_no_wait():
    assert backlog.Backlog.after(None, connections=64, rps=100) is None
    assert backlog.settle([None]) == {"waited_s": 0.0, "settled": True}
    child = subprocess.Popen([sys.executable, "-c", SPIN, "30"])
    server = psutil.Process(child.pid)
    child.kill()
    child.wait()
    waited = backlog.settle([backlog.Backlog.after([server], connections=64, rps=100)])
    assert waited["settled"] is True and waited["waited_s"] < 0.3


def test_a_slice_measured_after_a_heavy_one_is_told_apart_from_its_stored_order():
    """Slices stored per instance are put back in the order they ran (group, then start time):
    those right after a heavy instance's slice ran at 0.8, the others at 1.0."""
    timeline = ["light", "heavy", "light", "other", "other", "light", "heavy", "other", "light", "other", "light"]
    after = {"light": 0.0, "heavy": 0.0, "other": 0.0}
    cells = {name: {"name": name, "slices": []} for name in after}
    for position, name in enumerate(timeline):
        slowed = position > 0 and timeline[position - 1] == "heavy"
        cells[name]["slices"].append({"group": 1, "started_s": 1.5 * position, "rps": 80.0 if slowed else 100.0})
    cells["light"]["slices"].append({"group": 2, "started_s": 0.0, "rps": 100.0})  # first of its group
    found = backlog.after_heavy({"cells": list(cells.values())}, {"heavy"})
    assert found["after_heavy_n"] == 2 and found["after_others_n"] == 8
    assert found["after_heavy"] == pytest.approx(0.8) and found["after_others"] == pytest.approx(1.0)


def test_the_bound_is_littles_law_at_the_loads_rate_and_never_longer_than_the_longest():
    me = [psutil.Process()]
    assert backlog.Backlog.after(me, connections=1024, rps=512).bound_s == pytest.approx(2.0)
    assert backlog.Backlog.after(me, connections=1024, rps=10).bound_s == backlog.LONGEST_BOUND_S
    assert backlog.Backlog.after(me, connections=64, rps=0).bound_s == backlog.LONGEST_BOUND_S, \
        "a load that served nothing gives no rate"


def test_a_sweep_measured_before_the_wait_says_so_instead_of_counting_no_waits():
    from runner.lessons import what_asyncio_buys

    def sweep_of(pieces):
        cells = [{"name": "a @connections=1024", "connections": 1024, "slices": pieces[:1]},
                 {"name": "a @connections=16", "connections": 16, "slices": pieces[1:]}]
        noise = {"backlog_waits": 0, "backlog_waited_s": 0.0, "backlog_unsettled": 0}
        return {"results": {"cells": cells, "summary": {"noise": noise}}}

    old = [{"group": 1, "started_s": 0.0, "rps": 100.0}, {"group": 1, "started_s": 2.0, "rps": 80.0}]
    assert "measured before slices waited" in what_asyncio_buys.backlog_reading(sweep_of(old), 1024)
    new = [{**piece, "backlog": {"waited_s": 0.0, "settled": True}} for piece in old]
    assert what_asyncio_buys.backlog_reading(sweep_of(new), 1024).startswith("0 slices first waited 0.0 s in all")
