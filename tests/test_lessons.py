"""Lessons: rendered from committed runs, loud when a number is missing, each with a make target."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import subprocess

import pytest
from conftest import REPO

from runner.base.errors import DbbenchError
from runner.experiments import sweep
from runner.lessons import engine, processes, registry, toolkit
from runner.report import formatting, results


@pytest.fixture
def lesson_copy(tmp_path, monkeypatch):
    """The event-loop lesson copied somewhere it can be rendered without touching docs/."""
    shutil.copytree(engine.LESSONS_DIR / "event-loop", tmp_path / "event-loop")
    monkeypatch.setattr(engine, "LESSONS_DIR", tmp_path)
    return registry.lesson("event-loop")


@pytest.mark.parametrize("name", list(registry.LESSONS))
def test_every_committed_lesson_is_what_its_committed_results_render(name, tmp_path, monkeypatch):
    shutil.copytree(engine.LESSONS_DIR / name, tmp_path / name)
    monkeypatch.setattr(engine, "LESSONS_DIR", tmp_path)
    page = engine.render(registry.lesson(name))
    committed = REPO / "docs" / "lessons" / name
    assert page.read_text() == (committed / "README.md").read_text()
    assert (page.parent / "figure.svg").read_bytes() == (committed / "figure.svg").read_bytes()
    assert "$" not in page.read_text()


def test_a_number_missing_from_the_results_is_an_error(lesson_copy):
    template = lesson_copy.directory / "lesson.md.in"
    template.write_text(template.read_text() + "\nAnd $aiohttp_raw_us µs for aiohttp.\n")
    with pytest.raises(DbbenchError, match=r"asks for \$aiohttp_raw_us"):
        engine.render(lesson_copy)


def test_a_lesson_with_no_results_says_how_to_make_them(lesson_copy):
    (lesson_copy.directory / "results.json").unlink()
    with pytest.raises(DbbenchError, match="make lesson-event-loop"):
        engine.render(dataclasses.replace(lesson_copy))


def test_every_lesson_has_a_make_target_and_is_linked_from_the_readme():
    makefile = (REPO / "Makefile").read_text()
    listed = re.search(r"^LESSONS := (.*)$", makefile, re.M).group(1).split()
    assert listed == list(registry.LESSONS)
    readme = (REPO / "README.md").read_text()
    for name in registry.LESSONS:
        assert f"make lesson-{name}" in readme and f"docs/lessons/{name}/" in readme


def test_a_scenario_missing_from_a_multi_run_lesson_is_an_error(tmp_path, monkeypatch):
    """The page-and-edit ORM tax holds one run per scenario: without the edit run, the lesson
    says so instead of rendering half a page."""
    shutil.copytree(engine.LESSONS_DIR / "orm-tax-page-edit", tmp_path / "orm-tax-page-edit")
    monkeypatch.setattr(engine, "LESSONS_DIR", tmp_path)
    source = tmp_path / "orm-tax-page-edit" / "results.json"
    document = json.loads(source.read_text())
    document["runs"] = [run for run in document["runs"] if run["metadata"]["run"]["scenario"] != "edit"]
    source.write_text(json.dumps(document))
    with pytest.raises(DbbenchError, match="no run of the edit scenario"):
        engine.render(registry.lesson("orm-tax-page-edit"))


def test_a_variant_missing_from_the_orm_tax_run_is_named(tmp_path, monkeypatch):
    shutil.copytree(engine.LESSONS_DIR / "orm-tax", tmp_path / "orm-tax")
    monkeypatch.setattr(engine, "LESSONS_DIR", tmp_path)
    source = tmp_path / "orm-tax" / "results.json"
    document = json.loads(source.read_text())
    document["cells"] = [cell for cell in document["cells"] if cell["variant"] != "sa-lambda"]
    source.write_text(json.dumps(document))
    with pytest.raises(DbbenchError, match=r"by-id\) has no clean measurement of sa-lambda"):
        engine.render(registry.lesson("orm-tax"))


def test_a_lesson_page_rewritten_by_an_earlier_lesson_does_not_make_the_code_dirty(tmp_path, monkeypatch):
    """`make lessons` rewrites docs/ as it goes; the next lesson still ran the committed code.
    A change outside docs/ is still reported."""
    from runner.base import paths
    from runner.measure import metadata

    def git(*args):
        subprocess.run([shutil.which("git"), "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=tmp_path,
                       check=True, capture_output=True)

    for name in ("docs/lessons/a/README.md", "runner/measure/run.py"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("one\n")
    git("init", "-q")
    git("add", "-A")
    git("commit", "-qm", "one")
    monkeypatch.setattr(paths, "REPO", tmp_path)
    (tmp_path / "docs/lessons/a/README.md").write_text("two\n")
    assert metadata.collect_project()["git_dirty"] is False
    (tmp_path / "runner/measure/run.py").write_text("two\n")
    assert metadata.collect_project()["git_dirty"] is True


def test_a_sweep_lesson_measured_one_point_after_another_asks_to_be_measured_paired(tmp_path, monkeypatch):
    """Its claims are paired ratios: from sequential points the page would have none to read."""
    shutil.copytree(engine.LESSONS_DIR / "littles-law", tmp_path / "littles-law")
    monkeypatch.setattr(engine, "LESSONS_DIR", tmp_path)
    source = tmp_path / "littles-law" / "results.json"
    document = json.loads(source.read_text())
    run = document.pop("results")
    document["points"] = [{"value": value, "results": run} for value in document["values"]]
    source.write_text(json.dumps(document))
    with pytest.raises(DbbenchError, match=r"one point after the other; run `make lesson-littles-law`"):
        engine.render(registry.lesson("littles-law"))


def test_a_second_worker_s_gain_is_two_over_one_whichever_of_the_two_was_the_best():
    """The sweep stores each point over its cell's best; the lesson states two workers over one,
    which is that stored ratio where two was not the best, and its inverse where it was."""
    document = engine.load(engine.LESSONS_DIR / "processes" / "results.json")
    numbers = processes.processes_numbers(document)
    stored = sweep.point_ratios(document)
    inverted = 0
    for cell_name, points in sweep.series(document).items():
        one, two = points[0][1]["name"], points[-1][1]["name"]
        if two in stored:
            want = stored[two]
        else:
            low, high = stored[one]["ci95"]
            want, inverted = {"ratio": 1 / stored[one]["ratio"], "ci95": [1 / high, 1 / low]}, inverted + 1
        shown = formatting.fmt_ratio(want).removesuffix(" (tie)")
        assert numbers[f"{toolkit.placeholder_of(cell_name)}_gain"] == shown, cell_name
    assert inverted, "the committed run has a cell whose second worker was its best: the inverse is checked"
    assert "contains 1" in processes.gain_verdict({"ratio": 1.25, "ci95": [0.9, 1.6]})
    assert "below 1: a loss" in processes.gain_verdict({"ratio": 0.9, "ci95": [0.85, 0.95]})
    assert "above 1: a gain" in processes.gain_verdict({"ratio": 1.3, "ci95": [1.1, 1.5]})


def test_a_point_not_measured_cleanly_or_without_an_interval_is_neither_level_with_the_best_nor_below_it():
    """The knee and "below the best" read the paired ratio, never a missing one as "the best"."""
    ratios = {"a @n=2": {"ratio": 0.8, "ci95": [0.7, 0.9], "tie": False},
              "a @n=3": {"ratio": 0.97, "ci95": [0.9, 1.05], "tie": True},
              "a @n=4": {"ratio": 0.9, "ci95": None, "tie": True}}
    points = [{"name": f"a @n={n}", "clean": True} for n in (1, 2, 3, 4)] + [
        {"name": "a @n=5", "clean": False, "status": "failed"}]
    assert [toolkit.verdict(point, ratios) for point in points] == [
        "the best", "below the best", "cannot be told from the best",
        "no interval (too few rounds shared with the best)", "not measured cleanly (failed)"]
    assert [toolkit.level_with_best(point, ratios) for point in points] == [True, False, True, False, False]
    assert [toolkit.below_best(point, ratios) for point in points] == [False, True, False, False, False]
    assert toolkit.share_text(points[0], ratios) == "the best"
    assert toolkit.share_text(points[4], ratios) == "not measured cleanly"


def test_the_best_point_of_a_series_is_its_best_clean_point_as_the_run_s_ratios_take_it():
    """A point not measured cleanly is never the best N, however high its median."""
    points = [(n, {"name": f"a @n={n}", "point": {"of": "a", "value": n}, "clean": clean, "rps_median": rps})
              for n, clean, rps in ((1, True, 900.0), (4, False, 5000.0), (16, True, 1200.0))]
    assert toolkit.best_point("a", points) == points[2]
    assert results.best_points([cell for _, cell in points if cell["clean"]])["a @n=1"] == "a @n=16"
    with pytest.raises(DbbenchError, match="no point of a was measured cleanly"):
        toolkit.best_point("a", [(4, points[1][1])])


def test_a_lesson_is_measured_in_the_slices_its_page_describes(monkeypatch, tmp_path):
    """The committed lessons were measured in 1 s slices, and their pages say so: the runs'
    half-second default does not reach them, and a lesson that sets its own keeps it."""
    asked = []

    class Stop(Exception):
        pass

    class Recorder:
        def __init__(self, options):
            asked.append(options.slice_s)

        def execute(self):
            raise Stop

    monkeypatch.setattr(engine, "Run", Recorder)
    for name in ("event-loop", "orm-tax-page-edit"):
        with pytest.raises(Stop):
            registry.lesson(name).experiment(tmp_path)
    assert asked == [1, 2]
