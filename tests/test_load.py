"""Scenarios and CPU placement, without load."""

import pytest

from runner.base import scenarios
from runner.base.errors import DbbenchError
from runner.measure import cpu, wrk


def test_by_id_scenario_is_declared_with_its_script():
    scenario = scenarios.load_scenario("by-id")
    assert scenario.script.exists()
    assert scenario.connections == 64 and scenario.slice_s == 0.5
    assert "by-id" in scenarios.scenario_names()


def test_an_unknown_or_broken_scenario_is_a_clear_error(tmp_path, monkeypatch):
    with pytest.raises(DbbenchError, match="unknown scenario 'nope'"):
        scenarios.load_scenario("nope")
    (tmp_path / "broken.toml").write_text('name = "broken"\n')
    monkeypatch.setattr(scenarios.paths, "SCENARIOS_DIR", tmp_path)
    with pytest.raises(DbbenchError, match="invalid"):
        scenarios.load_scenario("broken")


def test_the_report_hook_is_appended_to_the_scenario_script(tmp_path):
    script = wrk.build_script(scenarios.load_scenario("by-id"), tmp_path).read_text()
    assert "function request()" in script and "function done(summary, latency, requests)" in script


def test_pinning_gives_disjoint_cores_only_when_there_are_enough(monkeypatch):
    monkeypatch.setattr(cpu.os, "sched_getaffinity", lambda _pid: set(range(8)))
    pinned = cpu.Pinning.plan(server_cpus=2, wrk_threads=1, postmaster_pid=12345)
    assert pinned.server == [0, 1] and pinned.wrk == [2] and pinned.postgres == [3, 4, 5, 6, 7]
    external = cpu.Pinning.plan(server_cpus=2, wrk_threads=1, postmaster_pid=None)
    assert external.postgres is None and "not pinned" in external.note
    monkeypatch.setattr(cpu.os, "sched_getaffinity", lambda _pid: {0, 1})
    shared = cpu.Pinning.plan(server_cpus=1, wrk_threads=1, postmaster_pid=12345)
    assert shared.server is None and shared.postgres is None
    assert shared.note.startswith("not pinned: 2 cores")


@pytest.mark.parametrize("text, expected", [("0.75", 0.75), ("1.0", 1), ("0.1", None), ("inf", None), ("nan", None)])
def test_a_scenarios_slice_may_be_a_fraction_of_a_second_but_not_too_short(tmp_path, monkeypatch, text, expected):
    source = scenarios.load_scenario("by-id")
    toml = source.script.with_suffix(".toml").read_text()
    assert "slice_s = 0.5\n" in toml
    (tmp_path / "by-id.toml").write_text(toml.replace("slice_s = 0.5\n", f"slice_s = {text}\n"))
    (tmp_path / source.script.name).write_text(source.script.read_text())
    monkeypatch.setattr(scenarios.paths, "SCENARIOS_DIR", tmp_path)
    if expected is None:
        with pytest.raises(DbbenchError, match="slice_s must be between 0.25 s and an hour"):
            scenarios.load_scenario("by-id")
    else:
        found = scenarios.load_scenario("by-id").slice_s
        assert found == expected and type(found) is type(expected)
