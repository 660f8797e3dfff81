"""One measuring command per cluster: a live holder refuses (or queues) a second, a killed
holder's lock is taken over and the results say so, read-only commands never wait, and every
command that writes refuses a results directory it cannot write before it starts anything."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO, dbbench

from runner.db import clusterlock
from runner.report import results

HOLDER = """
import sys, time
from runner.db import clusterlock
with clusterlock.held(None, "dbbench run --scenario edit", wait=False, log=print):
    print("held", flush=True)
    time.sleep(float(sys.argv[1]))
    released = time.monotonic()
print("released", released, flush=True)
"""


def start_holder(home: Path, seconds: float) -> subprocess.Popen:
    """A process that holds the embedded cluster's lock of `home` as a run would."""
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(seconds)], cwd=REPO, stdout=subprocess.PIPE,
                              text=True, env={**os.environ, "DBBENCH_HOME": str(home)})
    assert holder.stdout.readline().strip() == "held"
    return holder


@pytest.fixture
def other_home(tmp_path) -> Path:
    """A state directory with no cluster: refusing must need none."""
    return tmp_path / "home"


def test_a_second_measuring_command_refuses_at_once_naming_the_holder(other_home):
    holder = start_holder(other_home, 60)
    try:
        for args in (["run", "--quick", "--frameworks", "gin"], ["verify"], ["db", "seed", "--users", "10"],
                     ["sweep", "--param", "connections=8,16"], ["tune"], ["calibrate"], ["latency"],
                     ["soak", "--duration", "5"], ["faults"], ["lesson", "event-loop", "--measure"]):
            result = dbbench(*args, env={"DBBENCH_HOME": str(other_home)}, timeout=60)
            assert result.returncode == 2, (args, result.stderr)
            lines = result.stderr.strip().splitlines()
            assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
            assert f"pid {holder.pid}" in lines[0] and "dbbench run --scenario edit" in lines[0], lines[0]
            assert "busy" in lines[0] and "--wait" in lines[0]
        assert not (other_home / "pg").exists(), "a refused command started the cluster"
    finally:
        holder.kill()
        holder.wait()


def test_read_only_commands_never_take_the_lock(other_home):
    holder = start_holder(other_home, 60)
    example = REPO / "docs" / "example" / "results.json"
    try:
        for args in (["list"], ["report", str(example)], ["compare", str(example), str(example)], ["db", "status"]):
            result = dbbench(*args, env={"DBBENCH_HOME": str(other_home)}, timeout=120)
            assert result.returncode == 0, (args, result.stderr)
    finally:
        holder.kill()
        holder.wait()


def test_wait_queues_behind_the_holder_and_records_how_long(other_home, monkeypatch):
    monkeypatch.setenv("DBBENCH_HOME", str(other_home))
    holder = start_holder(other_home, 2)
    said = []
    try:
        with clusterlock.held(None, "dbbench verify --wait", wait=True, log=said.append) as lock:
            taken = time.monotonic()
            assert lock["waited_s"] > 0 and lock["taken_over_from"] is None
    finally:
        holder.wait()
    word, released = holder.stdout.read().split()
    assert word == "released" and taken >= float(released), "the lock was taken while its holder still held it"
    assert len(said) == 1
    assert said[0].startswith(f"waiting for pid {holder.pid} (`dbbench run --scenario edit`, since ")
    assert said[0].endswith(f") to release the embedded cluster in {other_home.resolve()} ...")


def test_a_killed_holders_lock_is_taken_over_and_said(other_home, monkeypatch):
    """kill -9 leaves the holder's record in the file; the kernel has dropped its flock."""
    monkeypatch.setenv("DBBENCH_HOME", str(other_home))
    holder = start_holder(other_home, 60)
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    said = []
    with clusterlock.held(None, "dbbench run", wait=False, log=said.append) as lock:
        assert lock["taken_over_from"]["pid"] == holder.pid
        assert lock["taken_over_from"]["command"] == "dbbench run --scenario edit"
        assert clusterlock.current()["holder"]["pid"] == os.getpid()
    assert len(said) == 1 and f"took over the embedded cluster in {other_home.resolve()}'s lock from pid " \
                               f"{holder.pid}" in said[0]
    assert clusterlock.current() is None
    assert (other_home / "cluster.lock").read_text() == "", "a clean release leaves no record to take over"


def test_a_run_after_a_killed_holder_records_the_takeover_in_its_results(db_url, state_home, tmp_path):
    record = {"pid": 999_999_999, "command": "dbbench run --all", "started_at": "2026-12-01T00:00:00Z", "host": "h"}
    (state_home / "cluster.lock").write_text(json.dumps(record))
    result = dbbench("run", "--pool-size", "rule",
                     "--frameworks", "gin", "--variants", "raw", "--slice", "1", "--rounds", "2",
                     "--connections", "4", "--out", str(tmp_path), timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "took over" in result.stderr and "pid 999999999" in result.stderr
    lock = results.load(tmp_path / "latest")["metadata"]["cluster_lock"]
    assert lock["taken_over_from"] == record
    assert lock["holder"]["command"].startswith("dbbench run --pool-size rule --frameworks gin")
    assert lock["cluster"] == f"the embedded cluster in {state_home.resolve()}"


def test_an_external_url_is_locked_by_host_and_port_and_its_password_never_shown(tmp_path, monkeypatch):
    monkeypatch.setenv("DBBENCH_HOME", str(tmp_path))
    path, named = clusterlock.lock_file("postgresql://u:s3cret@db.invalid:6543/dbbench")
    again, _ = clusterlock.lock_file("postgresql://other:pw@db.invalid:6543/postgres")
    assert path == again, "one lock per cluster, whatever the database or user"
    assert named == "the PostgreSQL at db.invalid:6543" and "s3cret" not in str(path)
    with clusterlock.held("postgresql://u:s3cret@db.invalid:6543/dbbench", "dbbench run --db-url "
                          "postgresql://u:***@db.invalid:6543/dbbench", wait=False, log=print):
        assert "s3cret" not in path.read_text()


@pytest.mark.parametrize("args", [
    ["run", "--quick", "--frameworks", "gin"], ["calibrate"], ["sweep", "--param", "connections=8,16"], ["tune"],
    ["latency"], ["soak", "--duration", "5"], ["faults"], ["report", "docs/example/results.json", "--format", "html"],
])
def test_every_command_that_writes_refuses_an_output_directory_it_cannot_write(args, tmp_path):
    afile = tmp_path / "a-file"
    afile.write_text("")
    for out in ("/proc/nope", str(afile / "below")) if args[0] == "run" else ("/proc/nope",):
        result = dbbench(*args, "--out", out, env={"DBBENCH_HOME": str(tmp_path / "home")}, timeout=60)
        assert result.returncode == 2, (args, out, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
        assert lines[0].startswith(f"dbbench: error: cannot write results in {out}"), lines[0]
    assert not (tmp_path / "home" / "pg").exists(), "the command started the cluster before checking --out"


def test_lint_is_ruff_alone_and_audit_is_its_own_target():
    """`make lint` must pass on a machine no vulnerability service answers; `make audit` keeps
    --strict, so nothing unaudited is called clean."""
    make = shutil.which("make")
    lint = subprocess.run([make, "-n", "--no-print-directory", "lint"], cwd=REPO, capture_output=True, text=True)
    assert "ruff check" in lint.stdout and "pip-audit" not in lint.stdout and "audit" not in lint.stdout
    audit = subprocess.run([make, "-n", "--no-print-directory", "audit"], cwd=REPO, capture_output=True,
                           text=True)
    assert "pip-audit --strict" in audit.stdout


def test_a_free_lock_is_taken_without_waiting_or_a_takeover(other_home, monkeypatch):
    monkeypatch.setenv("DBBENCH_HOME", str(other_home))
    with clusterlock.held(None, "dbbench verify", wait=True, log=print) as lock:
        assert lock["waited_s"] is None and lock["taken_over_from"] is None
        assert json.loads((other_home / "cluster.lock").read_text())["command"] == "dbbench verify"
