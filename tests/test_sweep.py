"""The sweep, measured: a paired sweep is one run whose points are instances; tune chooses from it."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import psutil
import pytest
from browser import open_page
from conftest import DBBENCH, REPO, dbbench

from runner.base.errors import DbbenchError
from runner.experiments import sweep, tune
from runner.measure.options import AFTER_TUNING_BUDGET_S, DEFAULT_BUDGET_S
from runner.report import results


def test_a_pool_size_sweep_is_paired_in_one_run_with_every_point_and_its_figures(db_url, tmp_path):
    result = dbbench("sweep", "--param", "pool-size=4,12", "--frameworks", "gin", "--variants", "raw",
                     "--slice", "1", "--rounds", "3", "--connections", "8", "--out", str(tmp_path), timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    (directory,) = (tmp_path / "sweep").iterdir()
    document = json.loads((directory / "sweep.json").read_text())
    assert document["complete"] is True and document["param"] == "pool-size" and document["paired"] is True
    assert document["schema_version"] == 2 and "points" not in document
    run = document["results"]
    assert run["metadata"]["run"]["sweep"] == {"param": "pool-size", "values": [4, 12], "paired": True}
    assert [cell["name"] for cell in run["cells"]] == ["gin/raw @pool-size=4", "gin/raw @pool-size=12"]
    for cell, pool in zip(run["cells"], (4, 12), strict=True):
        assert cell["pool_size"] == pool and cell["status"] == "ok" and cell["verification"]["ok"]
        assert cell["connections"] == 8 and cell["slices_used"] == 3
        assert sorted(piece["round"] for piece in results.used_slices(cell)) == [1, 2, 3], "once per round"
    (ratio,) = [c for c in run["summary"]["comparisons"] if c["kind"] == "point"]
    assert {ratio["a"], ratio["b"]} == {"gin/raw @pool-size=4", "gin/raw @pool-size=12"} and ratio["n"] == 3
    assert ratio["ci95"][0] <= ratio["ratio"] <= ratio["ci95"][1]
    for name in ("sweep-throughput", "sweep-p50", "sweep-p99", "sweep-ratio"):
        assert (directory / "figures" / f"{name}.svg").stat().st_size > 5000
        assert (directory / "figures" / f"{name}.png").read_bytes()[:4] == b"\x89PNG"
    assert "| gin/raw | 4 |" in result.stdout and "| gin/raw | 12 |" in result.stdout
    assert "Paired: every point was a warm instance" in result.stdout and "| best |" in result.stdout
    opened = open_page(directory / "report.html", tmp_path / "browser")
    assert opened.console == [] and opened.requests == [] and opened.dom.count("<figure ") == 4


def test_a_sweep_instance_that_dies_is_recorded_and_the_others_go_on(db_url, tmp_path):
    """The instance at pool 5 is killed after its first slice; the one at pool 4 is measured to the end."""
    cli = subprocess.Popen(
        [*DBBENCH, "sweep", "--param", "pool-size=4,5", "--frameworks", "gin", "--variants", "raw", "--slice", "1",
         "--rounds", "4", "--connections", "8", "--out", str(tmp_path)],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        victim = wait_for_first_slice(cli, tmp_path, "gin/raw @pool-size=5", "--pool-size 5")
        victim.kill()
        stdout, stderr = cli.communicate(timeout=300)
    finally:
        if cli.poll() is None:
            os.killpg(cli.pid, signal.SIGKILL)
    assert cli.returncode == 0, stderr[-3000:]
    (directory,) = (tmp_path / "sweep").iterdir()
    run = json.loads((directory / "sweep.json").read_text())["results"]
    died, lived = run["cells"][1], run["cells"][0]
    assert died["name"] == "gin/raw @pool-size=5" and died["status"] == "failed" and " round " in died["reason"]
    assert died["slices"], "the slice it finished is kept"
    assert lived["status"] == "ok" and lived["slices_used"] == 4
    assert "gin/raw @pool-size=5: failed" in stdout


def wait_for_first_slice(cli: subprocess.Popen, out: Path, name: str, marker: str) -> psutil.Process:
    """The CLI's cell process whose command line holds `marker`, once `name` has a measured slice."""
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        assert cli.poll() is None, cli.stderr.read()
        for path in out.glob("sweep/*/run/*/results.json"):
            with contextlib.suppress(ValueError, OSError):
                measured = {c["name"]: c["slices"] for c in json.loads(path.read_text())["cells"]}
                if measured.get(name):
                    return next(p for p in psutil.Process(cli.pid).children(recursive=True)
                                if marker in " ".join(p.cmdline()))
        time.sleep(0.3)
    raise AssertionError(f"{name} measured no slice")


@pytest.mark.parametrize("text", ["threads=1,2", "connections=8", "connections=8,8", "connections=a,b",
                                  "pool-size=0,4"])
def test_a_bad_parameter_is_refused(text):
    with pytest.raises(DbbenchError):
        sweep.parse_param(text)
    result = dbbench("sweep", "--param", text)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1


def test_a_parameter_given_twice_is_refused():
    result = dbbench("sweep", "--param", "connections=4,8", "--connections", "16")
    assert result.returncode == 2 and "give it in one place" in result.stderr


def test_tune_records_a_pool_per_cell_and_run_uses_it(db_url, tmp_path):
    tuned = dbbench("tune", "--frameworks", "gin", "--variants", "raw", "--ladder", "2,4", "--connections", "8",
                    "--slice", "1", "--rounds", "3", "--out", str(tmp_path), timeout=600)
    assert tuned.returncode == 0, tuned.stderr[-3000:]
    assert "| gin/raw |" in tuned.stdout
    (directory,) = (tmp_path / "sweep").iterdir()
    document = json.loads((directory / "sweep.json").read_text())
    assert document["paired"] and document["values"] == [2, 4, 12]  # the ladder and the rule's pool
    (choice,) = document["tuned"].values()
    assert choice["rule_pool"] == 12 and choice["key"]["connections"] == 8 and choice["key"]["cell"] == "gin/raw"
    as_good = [int(pool) for pool, step in choice["ladder"].items()
               if step["best"] or (step["ci95"] and step["ci95"][0] >= tune.EQUIVALENT and step["ci95"][1] >= 1)]
    assert choice["pool"] == min(as_good), "the smallest as good as the best, inconclusive or not"
    assert choice["ladder"][str(choice["best_pool"])]["best"]
    ran = dbbench("run", "--frameworks", "gin", "--variants", "raw", "--connections", "8", "--slice", "1",
                  "--rounds", "1", "--out", str(tmp_path / "run"), timeout=300)
    assert ran.returncode == 0, ran.stderr[-3000:]
    assert "tuning first" not in ran.stderr, "a recorded pool for the same key is used as it is"
    (cell,) = json.loads((tmp_path / "run" / "latest" / "results.json").read_text())["cells"]
    assert cell["pool_size"] == choice["pool"] and cell["pool_why"] == choice["why"]
    assert cell["pool_ladder"] == choice["ladder"]
    assert f"| gin/raw | ok | {choice['pool']} (tuned) |" in ran.stdout and "## Pool sizes" in ran.stdout
    document = json.loads((tmp_path / "run" / "latest" / "results.json").read_text())
    assert document["metadata"]["run"]["budget_s"] == DEFAULT_BUDGET_S, "a run that did not tune: the full budget"


def test_a_run_without_a_tuned_pool_tunes_first_on_slices_of_its_own(db_url, tmp_path):
    ran = dbbench("run", "--frameworks", "gin", "--variants", "raw", "--connections", "6", "--slice", "1",
                  "--rounds", "1", "--tune-budget", "20", "--out", str(tmp_path), timeout=600)
    assert ran.returncode == 0, ran.stderr[-3000:]
    assert "no tuned pool recorded for gin/raw" in ran.stderr and "tuning first" in ran.stderr
    run = json.loads((tmp_path / "latest" / "results.json").read_text())
    assert run["metadata"]["run"]["budget_s"] == AFTER_TUNING_BUDGET_S < DEFAULT_BUDGET_S
    (cell,) = run["cells"]
    assert cell["pool_why"].startswith("tuned: ") and cell["pool_ladder"]
    (tuning,) = (tmp_path / "sweep").iterdir()
    ladder = json.loads((tuning / "sweep.json").read_text())
    assert ladder["finished_at"] <= run["metadata"]["run"]["started_at"], "the pool is chosen before the run"
    assert ladder["results"]["metadata"]["run"]["shuffle_seed"] != run["metadata"]["run"]["shuffle_seed"]
    assert not (tuning / "report.html").exists(), "a run's own tuning leaves its pages to dbbench report"
    assert f"draws one, DIR among {tuning}" in ran.stderr
    drawn = dbbench("report", str(tuning), "--format", "html", check=True)
    assert (tuning / "report.html").exists(), drawn.stdout
    again = dbbench("run", "--frameworks", "gin", "--variants", "raw", "--connections", "7", "--quick",
                    "--rounds", "1", "--out", str(tmp_path / "again"), timeout=300)
    assert again.returncode == 0 and "tuning first" not in again.stderr, "--quick never tunes"
    (cell,) = json.loads((tmp_path / "again" / "latest" / "results.json").read_text())["cells"]
    assert cell["pool_why"] == "rule: no tuned pool recorded for this load and machine (a --quick run does not tune)"


def test_pool_size_is_a_number_rule_or_tuned_and_tuned_is_for_run():
    refused = dbbench("sweep", "--param", "connections=4,8", "--pool-size", "tuned")
    assert refused.returncode == 2 and "--pool-size tuned is for `dbbench run` on this machine" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    bad = dbbench("run", "--pool-size", "big")
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
