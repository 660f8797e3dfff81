"""The real runner with real wrk on a tiny matrix: slices, results, reports, compare, Ctrl-C.

No test here asserts a throughput figure: the machine is shared and noisy.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import psutil
import pytest
from browser import open_page
from conftest import DBBENCH, REPO, dbbench

from runner.base import supervise
from runner.base.errors import DbbenchError
from runner.cells import catalog, lifecycle
from runner.measure import options, run
from runner.report import results

TINY = ["--pool-size", "rule", "--frameworks", "fastapi,gin", "--variants", "raw", "--slice", "1", "--rounds", "3",
        "--connections", "8"]


@pytest.fixture(scope="module")
def tiny_run(db_url, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("results")
    result = dbbench("run", *TINY, "--out", str(out), "--seed", "7", timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "## Requests per second" in result.stdout
    path = out / "latest" / "results.json"
    assert path.exists()
    return path


@pytest.mark.end_to_end
def test_results_validate_and_every_cell_is_clean(tiny_run):
    document = results.load(tiny_run)
    assert document["complete"] is True
    assert document["schema_version"] == results.SCHEMA_VERSION
    assert {(c["framework"], c["variant"]) for c in document["cells"]} == {("fastapi", "raw"), ("gin", "raw")}
    for cell in document["cells"]:
        assert cell["status"] == "ok", cell["reason"]
        assert sorted((s["group"], s["round"]) for s in cell["slices"] if not s["repeat"]) == [(1, 1), (1, 2), (1, 3)]
        for measured in cell["slices"]:
            assert measured["errors"] == 0 and measured["non_2xx"] == 0
            assert measured["requests"] > 0 and measured["rps"] > 0
            assert set(measured["latency_ms"]) >= {"p50", "p90", "p99"}
            assert measured["wrk_args"][:4] == ["wrk", "-t1", "-c8", "-d1s"]
            assert 0 <= measured["noise"]["steal"] <= 1 and measured["noise"]["outside_cores"] >= 0
            assert measured["server_rss_mib"] > 1, "the server's resident memory, its whole process tree"
            assert set(measured["backlog"]) == {"waited_s", "settled"}, "the wait for the last load's backlog"
        assert cell["statements_per_request"]["lookup"] == 1
        assert cell["pool_size"] == catalog.pool_size_for(8, 1)
        assert cell["verification"]["ok"] is True
        assert cell["rank"] is not None


def test_both_cells_were_up_together_and_every_ratio_has_an_interval(tiny_run):
    document = results.load(tiny_run)
    run_meta = document["metadata"]["run"]
    assert run_meta["anchor"] == "gin/raw" and run_meta["max_cells_up"] == 2
    assert [g["cells"] for g in run_meta["groups"]] == [["fastapi/raw", "gin/raw"]]
    assert run_meta["groups"][0]["rounds"] == 3 and run_meta["groups"][0]["stopped"] == "rounds done"
    assert [sorted(o["cells"]) for o in run_meta["order"]] == [["fastapi/raw", "gin/raw"]] * 3
    share = next(c for c in document["summary"]["comparisons"] if c["kind"] == "reference")
    assert share["a"] == "fastapi/raw" and share["b"] == "gin/raw" and share["paired"] and share["n"] == 3
    assert share["ci95"][0] <= share["ratio"] <= share["ci95"][1]
    assert document["summary"]["noise"]["slices"] == sum(len(c["slices"]) for c in document["cells"])


def test_ranking_follows_the_blocked_ratio(tiny_run):
    document = results.load(tiny_run)
    ranked = sorted(document["cells"], key=lambda c: c["rank"])
    assert ranked[0]["rank"] == 1
    assert document["summary"]["ranking"] == [c["name"] for c in ranked]
    pair = next(c for c in document["summary"]["comparisons"] if c["kind"] == "ranking")
    assert (pair["a"], pair["b"]) == (ranked[0]["name"], ranked[1]["name"]) and pair["ratio"] >= 1
    assert (ranked[1]["rank"] == 1) == pair["tie"]


def test_metadata_says_what_ran_and_on_what(tiny_run):
    meta = results.load(tiny_run)["metadata"]
    assert meta["project"]["git_commit"]
    assert meta["machine"]["cpu_count"] >= 1 and meta["machine"]["kernel"]
    assert meta["stacks"]["gino"]["packages"]["fastapi"]
    assert meta["go"]["go_version"] and "github.com/gin-gonic/gin" in meta["go"]["modules"]
    assert meta["postgres"]["settings"]["max_connections"] == "600"
    assert meta["dataset"]["users"] and meta["dataset"]["checksum"]
    assert meta["tools"]["wrk"].startswith("wrk")
    assert meta["run"]["shuffle_seed"] == 7 and len(meta["run"]["order"]) == 3
    assert meta["run"]["started_at"] and meta["run"]["finished_at"]
    # No --db-latency: no proxy in the path, and no proxy party in the CPU figures.
    assert meta["run"]["db_latency_ms"] == 0 and meta["run"]["proxy"] is None
    cells = results.load(tiny_run)["cells"]
    assert all("proxy" not in piece["cpu_seconds"] for cell in cells for piece in cell["slices"])
    assert all(cell["verification"]["round_trip_ms"] is None for cell in cells)


def test_a_password_in_the_database_url_never_reaches_the_results(db_url, tmp_path):
    port = db_url.rsplit(":", 1)[1].split("/")[0]
    secret_url = f"postgresql://dbbench:pw-never-stored@127.0.0.1:{port}/dbbench"
    result = dbbench("run", "--pool-size", "rule",
                     "--frameworks", "gin", "--variants", "raw", "--slice", "1", "--rounds", "1",
                     "--connections", "4", "--out", str(tmp_path), env={"DATABASE_URL": secret_url})
    assert result.returncode == 0, result.stderr[-2000:]
    assert "pw-never-stored" not in result.stdout + result.stderr
    written = [path for path in tmp_path.rglob("*") if path.is_file()]
    assert written and all("pw-never-stored" not in path.read_text(errors="replace") for path in written)
    document = results.load(tmp_path / "latest")
    assert document["metadata"]["postgres"]["url"] == f"postgresql://dbbench:***@127.0.0.1:{port}/dbbench"
    assert document["metadata"]["postgres"]["embedded"] is False


@pytest.mark.end_to_end
def test_report_renders_a_stored_run_again(tiny_run):
    markdown = dbbench("report", str(tiny_run), check=True).stdout
    assert "gin (reference)" in markdown and "## Ranking" in markdown
    assert (tiny_run.parent / "results.md").read_text() == markdown
    csv_text = dbbench("report", str(tiny_run.parent), "--format", "csv", check=True).stdout
    assert csv_text.splitlines()[0].startswith("name,framework,variant,strategy")
    assert "share_of_reference" in csv_text.splitlines()[0]
    assert len(csv_text.splitlines()) == 3
    again = json.loads(dbbench("report", str(tiny_run), "--format", "json", check=True).stdout)
    assert again["cells"] == results.load(tiny_run)["cells"]


def test_compare_two_runs_and_refuse_different_data(tiny_run, tmp_path):
    second = tmp_path / "second.json"
    document = json.loads(tiny_run.read_text())
    second.write_text(json.dumps(document))
    table = dbbench("compare", str(tiny_run), str(second), check=True).stdout
    assert "fastapi/raw" in table and "Unpaired" in table
    assert "cannot tell: too few slices for a 95% interval of the median" in table, "3 rounds give no interval"
    document["metadata"]["dataset"]["checksum"] = "0" * 32
    second.write_text(json.dumps(document))
    refused = dbbench("compare", str(tiny_run), str(second))
    assert refused.returncode == 2 and "data set checksum differs" in refused.stderr
    assert dbbench("compare", str(tiny_run), str(second), "--force").returncode == 0


def test_bad_results_files_are_one_line_errors(tmp_path):
    (tmp_path / "bad.json").write_text("{not json")
    for target in (tmp_path / "bad.json", tmp_path / "missing.json"):
        result = dbbench("report", str(target))
        assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
        assert "Traceback" not in result.stderr


def test_a_bad_cell_is_recorded_and_the_run_goes_on(db_url, tmp_path, monkeypatch):
    """A variant whose module does not exist exits at once, before the verifier can connect:
    failed, with the reason; the other cell is measured."""
    manifest = catalog.manifest()
    broken = catalog.Variant(name="missing", strategy="orm", summary="no such module", stack="gino")
    fastapi = manifest.frameworks["fastapi"]
    patched = catalog.Manifest(
        frameworks={"fastapi": catalog.Framework(**{**vars(fastapi), "variants": ("raw", "missing")})},
        variants={**manifest.variants, "missing": broken}, stacks=manifest.stacks,
    )
    monkeypatch.setattr(catalog, "manifest", lambda: patched)
    chosen = options.RunOptions(frameworks=["fastapi"], slice_s=1, rounds=2, connections=4, out=tmp_path, seed=1)
    document = results.load(run.Run(chosen).execute())
    by_variant = {c["variant"]: c for c in document["cells"]}
    assert by_variant["missing"]["status"] == "failed"
    assert "exited with code" in by_variant["missing"]["reason"]
    assert by_variant["raw"]["status"] == "ok" and len(by_variant["raw"]["slices"]) >= 2
    assert not by_variant["missing"]["slices"]


def serving_processes() -> set[int]:
    return {p.pid for p in psutil.process_iter(["cmdline"]) if "apps.serve" in " ".join(p.info["cmdline"] or [])}


def test_ctrl_c_keeps_finished_slices_and_stops_what_it_started(db_url, tmp_path):
    before = serving_processes()
    process = subprocess.Popen(
        [*DBBENCH, "run", "--pool-size", "rule", "--frameworks", "fastapi,sanic", "--variants", "raw", "--slice", "2",
         "--rounds", "30", "--connections", "4", "--out", str(tmp_path)],
        cwd=REPO, env=os.environ.copy(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    path = tmp_path / "latest" / "results.json"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if path.exists() and any(c["slices"] for c in json.loads(path.read_text())["cells"]):
            break
        assert process.poll() is None, process.stderr.read().decode()[-2000:]
        time.sleep(0.3)
    assert process.poll() is None, "the run ended before it could be interrupted"
    process.send_signal(signal.SIGINT)
    try:
        _, errors = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()  # a run left going would skew every later test's statement counts
        raise
    assert process.returncode == 130, errors.decode()[-3000:]
    document = results.load(path)
    assert document["complete"] is False
    assert sum(len(c["slices"]) for c in document["cells"]) >= 1
    assert document["metadata"]["run"]["finished_at"]
    assert document["metadata"]["run"]["stop_reason"] == "interrupted (SIGINT)"
    time.sleep(1)
    assert serving_processes() - before == set(), "a cell outlived the interrupted run"


def test_calibration_on_one_real_cell_gives_an_interval_that_contains_one(db_url, tmp_path):
    """The same cell twice, as two cells. At the 99.9% level: at 99% a fresh-clone CI run failed
    here (7 December 2026, 0.876 [0.782–0.982] over 9 rounds of 1 s, steal up to 6.8%), the host
    drifting faster than 1 s rounds block; two instances that differ by more than the host's
    noise still fail it."""
    result = dbbench("calibrate", "--cell", "fastapi/raw", "--budget", "30", "--slice", "1", "--connections", "8",
                     "--confidence", "0.999", "--out", str(tmp_path), timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr[-2000:]
    assert "the interval contains 1" in result.stdout and "noise floor: ±" in result.stdout
    document = results.load(tmp_path / "latest")
    assert [c["name"] for c in document["cells"]] == ["fastapi/raw (A)", "fastapi/raw (B)"]
    assert all(c["status"] == "ok" and c["slices_used"] >= 3 for c in document["cells"])
    assert document["metadata"]["run"]["precision_target"] is None


def test_a_version_1_results_file_is_upgraded_and_compared_with_a_new_one(tiny_run, tmp_path):
    """Old files stay readable: each of their rounds becomes a slice of one group."""
    old = json.loads(tiny_run.read_text())
    taken = [len(c["slices"]) for c in old["cells"]]
    old["schema_version"] = 1
    old.pop("summary")
    run_meta = old["metadata"]["run"]
    run_meta["duration_s"] = run_meta.pop("slice_s")
    for key in ("groups", "anchor"):
        run_meta.pop(key)
    for cell in old["cells"]:
        cell.pop("name")
        cell["rounds"] = [{k: v for k, v in s.items() if k not in ("group", "repeat")} for s in cell.pop("slices")]
    path = tmp_path / "v1.json"
    path.write_text(json.dumps(old))
    upgraded = results.load(path)
    assert upgraded["schema_version"] == results.SCHEMA_VERSION
    assert [len(c["slices"]) for c in upgraded["cells"]] == taken
    assert upgraded["cells"][0]["name"] == "fastapi/raw" and upgraded["summary"]["comparisons"]
    table = dbbench("compare", str(path), str(tiny_run), check=True).stdout
    assert "gin/raw" in table and "Unpaired" in table


def test_cells_that_do_not_fit_together_run_in_groups_joined_by_the_anchor(db_url, tmp_path):
    """At 200 connections each pool holds 225: two cells fit under max_connections, not three.
    Two groups, each with gin/raw; fastapi and sanic, never up together, compare through it."""
    result = dbbench("run", "--pool-size", "rule",
                     "--frameworks", "fastapi,sanic,gin", "--variants", "raw", "--connections", "200",
                     "--slice", "1", "--rounds", "3", "--out", str(tmp_path), timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    document = results.load(tmp_path / "latest")
    run_meta = document["metadata"]["run"]
    assert run_meta["anchor"] == "gin/raw" and run_meta["max_cells_up"] == 2
    groups = run_meta["groups"]
    assert [g["cells"] for g in groups] == [["gin/raw", "fastapi/raw"], ["gin/raw", "sanic/raw"]]
    assert all(g["connections_held"] <= run_meta["connections_available"] for g in groups)
    anchor = next(c for c in document["cells"] if c["name"] == "gin/raw")
    assert sorted({s["group"] for s in anchor["slices"]}) == [1, 2]
    python_pair = next(c for c in document["summary"]["comparisons"]
                       if c["kind"] == "ranking" and {c["a"], c["b"]} == {"fastapi/raw", "sanic/raw"})
    assert python_pair["paired"] is False and python_pair["ci95"] is not None
    assert "2 group(s)" in dbbench("report", str(tmp_path / "latest"), check=True).stdout


def test_a_run_writes_its_page_and_figures_and_the_page_opens_offline(tiny_run, tmp_path):
    """raw cells only: no ORM tax figure; the other four, as SVG and PNG, and inline in the page."""
    figures = sorted(path.name for path in (tiny_run.parent / "figures").iterdir())
    assert figures == sorted(f"{name}.{fmt}" for name in ("throughput", "cpu", "latency", "stability")
                             for fmt in ("png", "svg"))
    opened = open_page(tiny_run.parent / "report.html", tmp_path)
    assert opened.console == [] and opened.requests == []
    assert opened.dom.count("<figure ") == 4
    assert "fastapi/raw" in opened.text() and "gin/raw" in opened.text()
    assert opened.inked() > 0.05


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_an_interrupt_python_swallows_in_a_finalizer_still_stops_the_command():
    """Python prints and drops an exception raised while a __del__ runs; the run's loops ask
    supervise.raise_if_interrupted(), so Ctrl-C landing there still ends the command."""

    class Finalized:
        def __del__(self):
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.2)  # the handler runs here, inside the finalizer, and its exception is dropped

    with pytest.raises(supervise.Interrupted), supervise.stop_on_signals():
        Finalized()
        supervise.raise_if_interrupted()
    supervise.raise_if_interrupted()  # outside the block nothing is pending


def test_a_group_s_processes_are_stopped_together_and_every_one_is_stopped():
    """Each stop waits for its server (about 1.9 s for a Python one here): they wait side by
    side, and a stop that fails leaves none of the others running."""
    together = threading.Barrier(3, timeout=5)
    stopped = []

    class Stopping:
        def __init__(self, name: str, fails: bool = False):
            self.name, self.fails = name, fails

        def stop(self) -> None:
            together.wait()  # breaks (and fails the test) unless all three are stopping at once
            stopped.append(self.name)
            if self.fails:
                raise OSError("gone")

    with pytest.raises(OSError):
        lifecycle.stop_all([Stopping("a"), Stopping("b", fails=True), Stopping("c")])
    assert sorted(stopped) == ["a", "b", "c"]
    lifecycle.stop_all([])


def test_a_group_s_cells_are_warmed_side_by_side_and_a_failed_warm_up_fails_only_its_cell():
    """Seven cells' primers and warm-ups one after the other took 42 s of every run's start-up."""
    together = threading.Barrier(2, timeout=5)
    warmed, failed = [], {}

    def closed_loop(name, process, seconds, seed):
        if seconds == 5:
            together.wait()  # breaks (and fails the test) unless both cells warm up at once
            if name == "b":
                raise DbbenchError("wrk failed (exit 1)")
        warmed.append((name, seconds))
        return {"rps": 100.0 * seconds}

    runner = run.Run.__new__(run.Run)
    runner.plan = SimpleNamespace(primer_s=1, warmup_s=5, seed=7)
    runner.describe = lambda text: None
    runner.fail = lambda name, process, reason: failed.update({name: reason})
    runner.closed_loop = closed_loop
    runner.backlogs = []
    runner.left_behind = lambda name, tree, result, stopped: (name, result["rps"])
    runner.warm(1, {"a": SimpleNamespace(processes=list), "b": SimpleNamespace(processes=list)})
    assert sorted(warmed) == [("a", 1), ("a", 5), ("b", 1)]
    assert failed == {"b": "group 1 start: wrk failed (exit 1)"}
    assert runner.backlogs == [("a", 500.0)], \
        "what a finished warm-up left in its server is waited out before the first slice; a primer's " \
        "is served during the warm-up, and a failed cell is stopped"


@pytest.mark.parametrize("disturbed, repeated", [
    (set(), []),
    ({"b"}, ["b"]),
    ({"b", "e"}, ["b", "e"]),
    ({"b", "c", "e"}, []),
    (set("abcdefg"), []),
])
def test_a_round_s_disturbed_slices_are_measured_again_only_when_they_are_a_burst(disturbed, repeated):
    """Seven cells: one or two disturbed slices are measured again; three or more are the host's
    state, and their repeats would most likely be disturbed too."""
    measured = []

    def measure_slice(name, process, number, round_no, position, repeat=False):
        measured.append((name, repeat))
        return {"disturbed": name in disturbed and not repeat}

    runner = run.Run.__new__(run.Run)
    runner.rng = SimpleNamespace(shuffle=lambda order: None)
    runner.document = {"metadata": {"run": {"order": []}}}
    runner.records = {name: {"status": "ok"} for name in "abcdefg"}
    runner.plan = SimpleNamespace(slice_s=1)
    runner.elapsed = lambda: 0.0
    runner.measure_slice = measure_slice
    runner.measure_round(1, 1, list("abcdefg"), {name: object() for name in "abcdefg"}, deadline=100.0)
    assert [name for name, repeat in measured if not repeat] == list("abcdefg")
    assert [name for name, repeat in measured if repeat] == repeated


def test_in_a_two_instance_a_a_one_disturbed_slice_is_measured_again_and_two_are_not():
    assert run.repeats_pay(1, 2) and not run.repeats_pay(2, 2) and not run.repeats_pay(0, 2)
