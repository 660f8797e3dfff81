"""The CPU used beside a slice, split by source: this runner, kernel threads, other processes
by name, and the measured parties' processes kept out of it (runner/measure/noise.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import psutil
import pytest

from runner.measure import noise
from runner.report import about, results

SPIN = ("import sys, time\nopen('/proc/self/comm', 'w').write(sys.argv[1])\nend = time.process_time() + 0.6\n"
        "while time.process_time() < end:\n    pass\ntime.sleep(30)\n")


def spinner(name: str) -> subprocess.Popen:
    """A process named `name` that spends 0.6 s of CPU, then sleeps."""
    return subprocess.Popen([sys.executable, "-c", SPIN, name])


def spin_here(seconds: float) -> None:
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass


def test_the_cpu_beside_a_slice_is_split_by_source_and_the_measured_parties_are_left_out():
    probe = noise.NoiseProbe.start()
    busy, measured, idle = spinner("dbbench-busy"), spinner("dbbench-meas"), spinner("dbbench-idle")
    try:
        spin_here(0.3)  # the runner's own work during the slice
        for process in (busy, measured, idle):  # each spends its 0.6 s, however slow the host is today
            deadline = time.monotonic() + 30
            while sum(psutil.Process(process.pid).cpu_times()[:2]) < 0.6 and time.monotonic() < deadline:
                time.sleep(0.05)
        found = probe.finish(measured_cpu_s=0.6, measured_trees={measured.pid}, idle_trees={idle.pid})
        wall = time.monotonic() - probe.started  # what the cores are over
    finally:
        for process in (busy, measured, idle):
            process.kill()
            process.wait()
    by_source = found["outside_by_source"]
    assert by_source["runner"] * wall == pytest.approx(0.3, abs=0.12)
    assert by_source["other"]["dbbench-busy"] * wall == pytest.approx(0.65, abs=0.15)  # with its start-up
    assert "dbbench-meas" not in by_source["other"], "a measured party is not outside the measurement"
    assert by_source["idle cells"] * wall == pytest.approx(0.65, abs=0.15) and "dbbench-idle" not in by_source["other"]
    assert set(by_source) == {"runner", "idle cells", "kernel", "other", "unattributed"}
    assert found["outside_cores"] >= by_source["runner"] + by_source["other"]["dbbench-busy"] - 0.1


def test_the_heaviest_sources_are_named_and_the_rest_summed():
    assert noise.heaviest({"a": 1.0, "b": 3.0, "c": 2.0, "d": 0.5, "e": 0.5}, wall=2.0) == \
        {"b": 1.5, "c": 1.0, "a": 0.5, "(rest)": 0.5}


def test_a_process_s_name_and_kernel_flag_come_from_proc():
    found = noise.process_times()
    assert found[2].name == "kthreadd" and found[2].kernel is True
    assert found[os.getpid()].kernel is False and found[os.getpid()].parent == os.getppid()
    assert noise.descendants(found, {os.getppid()}) >= {os.getppid(), os.getpid()}
    assert os.getppid() not in noise.descendants(found, {os.getpid()})


def test_the_host_noise_line_names_the_main_outside_consumers():
    pieces = [{"noise": {"steal": 0.0, "outside_cores": 0.4, "outside_by_source": {
        "runner": 0.14, "idle cells": 0.001, "kernel": {"kdamond.0": 0.12, "(rest)": 0.01}, "other": {"sshd": 0.02},
        "unattributed": 0.1}}}
              for _ in range(3)] + [{"noise": {"steal": 0.0, "outside_cores": 0.1}}]  # an older slice says nothing
    cells = [{"slices": pieces}]
    summary = results.noise_summary(cells)
    assert [found["source"] for found in summary["outside_sources"]] == \
        ["runner", "kernel kdamond.0", "unattributed", "sshd"]
    assert summary["outside_sources"][0]["cores_mean"] == 0.14
    assert about.outside_sources_text(summary) == (
        " (mainly, as cores on average over slices: this dbbench command 0.14, kernel kdamond.0 0.12, "
        "unattributed 0.10, sshd 0.02)")
    assert about.outside_sources_text({"outside_sources": []}) == ""


RENAMED = ("import sys, time\n"
           "def spin(seconds):\n    end = time.process_time() + seconds\n    while time.process_time() < end:\n"
           "        pass\n"
           "open('/proc/self/comm', 'w').write('dbbench-before')\nspin(0.5)\nprint('ready', flush=True)\n"
           "sys.stdin.readline()\nopen('/proc/self/comm', 'w').write('dbbench-after')\nspin(0.2)\n"
           "print('done', flush=True)\ntime.sleep(30)\n")


def test_a_process_that_changes_its_name_is_counted_from_the_slice_s_start_not_from_its_birth():
    """A kernel worker names its current work; the CPU it used before the slice is not the slice's."""
    renamed = subprocess.Popen([sys.executable, "-c", RENAMED], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               text=True)
    try:
        assert renamed.stdout.readline() == "ready\n"
        probe = noise.NoiseProbe.start()
        renamed.stdin.write("go\n")
        renamed.stdin.flush()
        assert renamed.stdout.readline() == "done\n"
        found = probe.finish(measured_cpu_s=0.0)
        wall = time.monotonic() - probe.started
    finally:
        renamed.kill()
        renamed.wait()
    other = found["outside_by_source"]["other"]
    assert "dbbench-before" not in other
    assert other["dbbench-after"] * wall == pytest.approx(0.2, abs=0.1), "its 0.5 s before the slice are not in it"
