"""The sweep: one run per value of one parameter, in one results file with its figures."""

from __future__ import annotations

import json

import pytest
from browser import open_page
from conftest import dbbench

from runner import sweep
from runner.errors import DbbenchError


def test_a_two_value_sweep_writes_every_point_and_its_figures(db_url, tmp_path):
    result = dbbench("sweep", "--param", "pool-size=4,12", "--frameworks", "gin", "--variants", "raw",
                     "--slice", "1", "--rounds", "2", "--connections", "8", "--out", str(tmp_path), timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    (directory,) = (tmp_path / "sweep").iterdir()
    document = json.loads((directory / "sweep.json").read_text())
    assert document["complete"] is True and document["param"] == "pool-size"
    assert [point["value"] for point in document["points"]] == [4, 12]
    for point in document["points"]:
        (cell,) = point["results"]["cells"]
        assert cell["pool_size"] == point["value"] and cell["status"] == "ok"
        assert cell["verification"]["ok"] and cell["slices_used"] == 2
        assert cell["rps_ci95"] is None, "two slices give a median no 95% interval"
        assert point["results"]["metadata"]["run"]["connections"] == 8
    for name in ("sweep-throughput", "sweep-p50", "sweep-p99"):
        assert (directory / "figures" / f"{name}.svg").stat().st_size > 5000
        assert (directory / "figures" / f"{name}.png").read_bytes()[:4] == b"\x89PNG"
    assert "| gin/raw | 4 |" in result.stdout and "| gin/raw | 12 |" in result.stdout
    assert "2 slices, too few for a 95% interval (6 needed)" in result.stdout
    opened = open_page(directory / "report.html", tmp_path / "browser")
    assert opened.console == [] and opened.requests == [] and opened.dom.count("<figure ") == 3


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
                    "--slice", "1", "--rounds", "2", "--out", str(tmp_path), timeout=600)
    assert tuned.returncode == 0, tuned.stderr[-3000:]
    assert "| gin/raw |" in tuned.stdout
    (directory,) = (tmp_path / "sweep").iterdir()
    document = json.loads((directory / "sweep.json").read_text())
    assert [point["value"] for point in document["points"]] == [2, 4, 12]  # the ladder and the rule's pool
    (choice,) = document["tuned"].values()
    assert choice["pool"] in (2, 4, 12) and choice["rule_pool"] == 12
    assert choice["pool"] == choice["best_pool"], "two slices per pool give no interval: only the best is as good"
    ran = dbbench("run", "--frameworks", "gin", "--variants", "raw", "--connections", "8", "--slice", "1",
                  "--rounds", "1", "--pool-size", "tuned", "--out", str(tmp_path / "run"), timeout=300)
    assert ran.returncode == 0, ran.stderr[-3000:]
    (cell,) = json.loads((tmp_path / "run" / "latest" / "results.json").read_text())["cells"]
    assert cell["pool_size"] == choice["pool"]
    assert cell["pool_why"].startswith("tuned: the best pool: too few slices for a 95% interval")
    assert f"| gin/raw | ok | {choice['pool']} (tuned) |" in ran.stdout


def test_a_tuned_pool_that_was_never_measured_is_a_one_line_error():
    result = dbbench("run", "--frameworks", "sanic", "--variants", "raw", "--connections", "24", "--pool-size",
                     "tuned")
    assert result.returncode == 2 and "no tuned pool for sanic/raw" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    refused = dbbench("sweep", "--param", "connections=4,8", "--pool-size", "tuned")
    assert refused.returncode == 2 and "--pool-size tuned is for dbbench run" in refused.stderr
