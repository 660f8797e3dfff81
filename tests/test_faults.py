"""Nothing left behind, nothing lost: signals to the real CLI, cells that die, a database
that goes away, a results file that cannot be written, bad input. Real processes only."""

from __future__ import annotations

import errno
import json
import os
import pathlib
import signal
import subprocess
import time
from pathlib import Path

import httpx
import psutil
import pytest
from conftest import DBBENCH, REPO, TEST_USERS, dbbench

from runner.base import ports
from runner.base.errors import DbbenchError
from runner.db import database, seeding
from runner.measure import options, run
from runner.report import results
from runner.verify import verifier

GONE_WITHIN_S = 10


def start_cli(*args: str, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen([*DBBENCH, *args], cwd=REPO, env={**os.environ, **(env or {})},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def wait_until(condition, timeout: float, what: str, process: subprocess.Popen | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        if process is not None and process.poll() is not None:
            raise AssertionError(f"the CLI exited {process.returncode} before {what}: "
                                 f"{process.stderr.read().decode()[-2000:]}")
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def command_line(proc: psutil.Process) -> list[str]:
    """Its argv, or [] once it has gone (a wrk run may end while we look)."""
    try:
        return proc.cmdline()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return []


def alive(processes: list[psutil.Process]) -> list[psutil.Process]:
    living = []
    for proc in processes:
        try:
            if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
                living.append(proc)
        except psutil.NoSuchProcess:
            continue
    return living


def assert_all_gone(processes: list[psutil.Process], listened: list[int]) -> None:
    """Within GONE_WITHIN_S, no process left and every port free (a killed multi-threaded
    process can show as gone a moment before its last thread has released its sockets)."""
    deadline = time.monotonic() + GONE_WITHIN_S

    def taken() -> list[int]:
        return [port for port in listened if not ports.port_is_free(port)]

    while (alive(processes) or taken()) and time.monotonic() < deadline:
        time.sleep(0.2)
    left = alive(processes)
    assert not left, f"left running: {[' '.join(command_line(p)[:4]) for p in left]}"
    assert not taken(), f"ports still taken: {taken()}"


def answers(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/users/1", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def ports_of(processes: list[psutil.Process]) -> list[int]:
    found = []
    for proc in processes:
        argv = command_line(proc)
        if "--port" in argv:
            found.append(int(argv[argv.index("--port") + 1]))
    return found


def slices_so_far(path: Path) -> dict[str, int]:
    if not path.exists():
        return {}
    return {c["name"]: len(c["slices"]) for c in json.loads(path.read_text())["cells"]}


@pytest.mark.parametrize("framework, signum, code", [
    ("fastapi", signal.SIGTERM, 143), ("fastapi", signal.SIGKILL, -9), ("sanic", signal.SIGKILL, -9),
    ("flask", signal.SIGKILL, -9), ("gin", signal.SIGKILL, -9),
])
def test_serve_leaves_nothing_behind_whatever_signal_ends_it(db_url, framework, signum, code):
    """Each worker manager (uvicorn, Sanic's, gunicorn's) with two workers holding pools, and
    the Go binary: all of it goes with the CLI."""
    port = ports.free_port()
    cli = start_cli("serve", framework, "raw", "--port", str(port), "--workers", "2", "--pool-size", "3")
    try:
        wait_until(lambda: answers(port), 60, "the cell to answer", cli)
        cell = descendants(cli.pid)
        assert len(cell) >= (1 if framework == "gin" else 3), "the server and its two workers"
        cli.send_signal(signum)
        assert cli.wait(30) == code
    finally:
        if cli.poll() is None:
            cli.kill()
    assert_all_gone(cell, [port])


def signal_a_run_after_a_slice(args: list[str], path, signum: int, code: int,
                               check_up=lambda started: None) -> tuple[subprocess.Popen, list[psutil.Process]]:
    """`dbbench ARGS`, ended with `signum` once its first slice is stored (after `check_up` looked
    at the processes it had started), and its exit code checked: the CLI and those processes."""
    cli = start_cli(*args)
    try:
        wait_until(lambda: sum(slices_so_far(path).values()) >= 1, 180, "a first slice", cli)
        time.sleep(0.5)
        started = descendants(cli.pid)
        check_up(started)
        cli.send_signal(signum)
        assert cli.wait(60) == code
    finally:
        if cli.poll() is None:
            cli.kill()
    return cli, started


def two_cells_up(started: list[psutil.Process]) -> None:
    assert len(started) >= 2, "the two cells are up"


@pytest.mark.parametrize("signum, code", [(signal.SIGTERM, 143), (signal.SIGKILL, -9)])
def test_run_leaves_nothing_behind_whatever_signal_ends_it(db_url, tmp_path, signum, code):
    path = tmp_path / "latest" / "results.json"
    _, started = signal_a_run_after_a_slice(
        ["run", "--pool-size", "rule", "--frameworks", "fastapi,gin", "--variants", "raw", "--slice", "2",
         "--rounds", "20", "--connections", "4", "--out", str(tmp_path)], path, signum, code, two_cells_up)
    assert_all_gone(started, ports_of(started))
    document = results.load(path)
    assert document["complete"] is False and sum(len(c["slices"]) for c in document["cells"]) >= 1
    if signum == signal.SIGTERM:
        assert document["metadata"]["run"]["stop_reason"] == "interrupted (SIGTERM)"


def test_a_cell_that_crashes_mid_run_is_recorded_and_the_other_goes_on(db_url, tmp_path):
    path = tmp_path / "latest" / "results.json"
    cli = start_cli("run", "--pool-size", "rule",
                    "--frameworks", "fastapi,gin", "--variants", "raw", "--slice", "1", "--rounds", "5",
                    "--connections", "4", "--out", str(tmp_path))
    try:
        wait_until(lambda: min(slices_so_far(path).values() or [0]) >= 1, 180, "a slice of each cell", cli)
        gin = next(p for p in descendants(cli.pid) if "gin-" in " ".join(command_line(p)[:1]))
        gin.kill()
        out, errors = cli.communicate(timeout=180)
    finally:
        if cli.poll() is None:
            cli.kill()
    assert cli.returncode == 0, errors.decode()[-2000:]
    cells = {c["name"]: c for c in results.load(path)["cells"]}
    assert cells["gin/raw"]["status"] == "failed"
    assert "exited with code" in cells["gin/raw"]["reason"] or "wrk" in cells["gin/raw"]["reason"]
    assert cells["fastapi/raw"]["status"] == "ok" and cells["fastapi/raw"]["slices_used"] == 5


def test_a_verifier_that_cannot_reach_its_cell_fails_the_cell_without_raising(db_url):
    verdict = verifier.Verifier(f"http://127.0.0.1:{ports.free_port()}", db_url).run()
    assert not verdict.ok
    assert verdict.first_failure.startswith("reachable: the cell at") and "does not answer" in verdict.first_failure


def test_more_server_cpus_than_cores_is_refused_in_one_line():
    result = dbbench("run", "--workers", "64")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "more than the" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_input_is_one_line_and_never_a_traceback():
    for args in (["run", "--budget", "soon"], ["run", "--precision", "200%"], ["run", "--slice", "0"],
                 ["run", "--slice", "0.1"], ["run", "--slice", "inf"],
                 ["calibrate", "--cell", "nosuch/raw"], ["calibrate", "--confidence", "0.1"],
                 ["calibrate", "--instances", "1"], ["calibrate", "--instances", "27"],
                 ["calibrate", "--instances", "x"],
                 ["soak", "--duration", "-1"], ["run", "--frameworks", "nosuch"]):
        result = dbbench(*args)
        assert result.returncode == 2, args
        assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr, result.stderr


def test_a_results_file_that_cannot_be_written_ends_the_run_in_one_line(db_url, tmp_path, monkeypatch):
    """A full disk after a few writes: one clear error, the last good file valid, nothing left running."""
    writes = {"count": 0}
    real_write_text = pathlib.Path.write_text

    def filling_disk(self, *args, **kwargs):
        if self.name == "results.json.tmp":
            writes["count"] += 1
            if writes["count"] > 3:
                raise OSError(errno.ENOSPC, "No space left on device")
        return real_write_text(self, *args, **kwargs)

    monkeypatch.setattr(pathlib.Path, "write_text", filling_disk)
    runner = run.Run(options.RunOptions(frameworks=["fastapi"], variants=["raw"], slice_s=1, rounds=10,
                                    connections=4, out=tmp_path, seed=3))
    before = {p.pid for p in psutil.process_iter()}
    with pytest.raises(DbbenchError, match="No space left on device; the last good results file is kept"):
        runner.execute()
    document = results.load(runner.results_path)
    assert document["complete"] is False
    assert not (runner.results_path.parent / "results.json.tmp").exists()
    started = [p for p in psutil.Process().children(recursive=True) if p.pid not in before]
    assert not alive(started)


@pytest.fixture
def restored_cluster(db_url):
    """These tests stop the session's cluster; it comes back on its port afterwards, with the
    session's seed (`db up` without --users would seed the default 100,000 users instead)."""
    yield db_url
    dbbench("db", "up", "--users", str(TEST_USERS), check=True)
    assert database.reachable(db_url)
    assert seeding.current_seed(db_url).users == TEST_USERS, "the later tests need the session's seed"


def run_then_stop_postgres(tmp_path: Path, rounds: int, wait_s: int) -> tuple[subprocess.Popen, Path]:
    """A run of gin/raw; once its first slice is stored, the embedded cluster is stopped."""
    path = tmp_path / "latest" / "results.json"
    cli = start_cli("run", "--pool-size", "rule",
                    "--frameworks", "gin", "--variants", "raw", "--slice", "1", "--rounds", str(rounds),
                    "--connections", "4", "--out", str(tmp_path), env={"DBBENCH_DB_WAIT_S": str(wait_s)})
    wait_until(lambda: sum(slices_so_far(path).values()) >= 1, 120, "a first slice", cli)
    dbbench("db", "down", check=True)
    return cli, path


def test_postgres_stopping_for_good_ends_the_run_with_its_slices_kept(restored_cluster, tmp_path):
    cli = None
    try:
        cli, path = run_then_stop_postgres(tmp_path, rounds=30, wait_s=4)
        out, errors = cli.communicate(timeout=120)
    finally:
        if cli is not None and cli.poll() is None:
            cli.kill()
    assert cli.returncode == 2
    last = errors.decode().strip().splitlines()[-1]
    assert "did not come back within 4 s" in last and "Traceback" not in errors.decode()
    document = results.load(path)
    assert document["complete"] is False
    assert document["metadata"]["run"]["database_outages"][-1]["recovered_after_s"] is None
    assert "stopped answering" in document["metadata"]["run"]["stop_reason"]


def test_postgres_back_within_the_bound_lets_the_run_go_on(restored_cluster, tmp_path):
    cli = None
    try:
        cli, path = run_then_stop_postgres(tmp_path, rounds=8, wait_s=60)

        def outage_seen():
            document = json.loads(path.read_text())
            return any(s.get("database") == "unreachable" for c in document["cells"] for s in c["slices"])

        wait_until(outage_seen, 60, "a slice spoiled by the outage", cli)
        dbbench("db", "up", "--users", str(TEST_USERS), check=True)
        out, errors = cli.communicate(timeout=180)
    finally:
        if cli is not None and cli.poll() is None:
            cli.kill()
    assert cli.returncode == 0, errors.decode()[-2000:]
    document = results.load(path)
    assert document["complete"] is True
    assert document["metadata"]["run"]["database_outages"][0]["recovered_after_s"] is not None
    cell = document["cells"][0]
    assert "db-outage" in cell["flags"]
    spoiled = [s for s in cell["slices"] if s.get("database") == "unreachable"]
    assert spoiled and all(s not in results.used_slices(cell) for s in spoiled)


def test_soak_samples_memory_and_connections(db_url, tmp_path):
    result = dbbench("soak", "--frameworks", "gin", "--variants", "raw", "--duration", "6", "--sample", "2",
                     "--connections", "16", "--out", str(tmp_path), timeout=180)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "RSS slope" in result.stdout and "gin/raw" in result.stdout
    document = json.loads(next(tmp_path.rglob("soak.json")).read_text())
    cell = document["cells"][0]
    assert document["complete"] and cell["status"] == "ok" and len(cell["samples"]) >= 3
    assert all(s["rss_mib"] > 0 and s["db_connections"] > 0 for s in cell["samples"])
    assert cell["db_connections"]["after_load"] == cell["expected_connections"]
    assert "connection-leak" not in cell["flags"] and "memory-growth" not in cell["flags"]
