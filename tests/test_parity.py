"""dbbench parity: every minimal app answers by-id as the cells do; a parity run measures each
cell beside its minimal app in the same rounds and says the ratio with its interval."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

import pytest
from conftest import dbbench

from runner.base.errors import DbbenchError
from runner.cells import lifecycle, minimal
from runner.cells.catalog import manifest
from runner.db import roles
from runner.measure import schedule
from runner.report import parity, results
from runner.verify import verifier


@pytest.fixture(scope="module")
def parity_run(db_url, tmp_path_factory):
    out = tmp_path_factory.mktemp("parity")
    result = dbbench("parity", "--cell", "fastapi/raw", "--slice", "1", "--rounds", "3", "--connections", "8",
                     "--out", str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    return out / "latest", result


def test_a_parity_run_measures_the_cell_beside_its_minimal_app_and_writes_the_ratio(parity_run):
    directory, result = parity_run
    document = results.load(directory / "results.json")
    cells = {cell["name"]: cell for cell in document["cells"]}
    assert set(cells) == {"fastapi/raw", "fastapi/raw (minimal)"}
    app = cells["fastapi/raw (minimal)"]
    assert app["minimal"]["app"] == "fastapi_asyncpg" and app["minimal"]["of"] == "fastapi/raw"
    assert app["minimal"]["server"] == "uvicorn" and "asyncpg" in app["minimal"]["follows"]
    assert cells["fastapi/raw"]["minimal"] is None
    assert [check["name"] for check in app["verification"]["checks"]] == ["values", "statements"]
    assert {"values", "missing", "malformed", "statements", "pool"} <= {
        check["name"] for check in cells["fastapi/raw"]["verification"]["checks"]}
    assert app["pool_size"] == cells["fastapi/raw"]["pool_size"] and app["workers"] == cells["fastapi/raw"]["workers"]
    for cell in cells.values():
        assert cell["status"] == "ok" and len(cell["slices"]) >= 3
    run = document["metadata"]["run"]
    assert [group["cells"] for group in run["groups"]] == [["fastapi/raw", "fastapi/raw (minimal)"]]
    assert run["anchor"] is None and run["parity"] and run["parity_published"] is None
    [found] = document["summary"]["comparisons"]
    assert (found["kind"], found["a"], found["b"]) == ("parity", "fastapi/raw", "fastapi/raw (minimal)")
    assert found["paired"] and found["n"] == 3 and found["ci95"] is not None
    text = (directory / "parity.md").read_text()
    assert re.search(r"\| `fastapi/raw` \| `fastapi_asyncpg` \| \d\.\d{3} \[\d\.\d{3}–\d\.\d{3}\] \|", text)
    assert text in result.stdout


def test_every_minimal_app_answers_by_id_with_the_values_the_cells_give(db_url, tmp_path):
    """Each declared app started in its cell's place, all at once, and held to the verifier's by-id
    values and statements: the same rows, field by field, and one lookup per request."""
    processes = {}
    for name, app in minimal.declared().items():
        cell = manifest().cell(*name.split("/"))
        processes[name] = lifecycle.CellProcess.on_free_port(
            cell, workers=1, pool_size=2, log_path=tmp_path / f"{app.app}-{cell.framework.name}.log", minimal=app)

    def verdict_of(name: str):
        process = processes[name]
        login = roles.login_for(db_url, db_url, f"parity-test {name}")
        process.start(login.url)
        process.wait_ready()
        return verifier.verify_running(process, db_url, login, endpoints=("by-id",))

    try:
        with ThreadPoolExecutor(max_workers=4) as pool:
            verdicts = dict(zip(processes, pool.map(verdict_of, processes), strict=True))
    finally:
        lifecycle.stop_all(list(processes.values()))
    for name, verdict in verdicts.items():
        assert verdict.ok, (name, verdict.first_failure, processes[name].log_tail())
        assert [check.name for check in verdict.checks] == ["values", "statements"]
        assert verdict.statements_per_request.get("lookup") == 1, (name, verdict.statements_per_request)


def test_a_cell_without_a_minimal_app_is_refused_in_one_line():
    result = dbbench("parity", "--cell", "flask/raw")
    assert result.returncode != 0
    assert result.stderr.strip().count("\n") == 0 and "flask/raw has no minimal app" in result.stderr


@pytest.mark.parametrize("flags, said", [
    (["--scenario", "mix"], "measures by-id"), (["--pooler", "pgbouncer"], "without --pooler"),
])
def test_parity_refuses_what_the_minimal_apps_do_not_serve_in_one_line(flags, said):
    result = dbbench("parity", "--cell", "fastapi/raw", *flags)
    assert result.returncode != 0 and said in result.stderr and result.stderr.strip().count("\n") == 0


def test_every_default_cell_and_every_cell_of_the_stacks_preset_has_a_minimal_app():
    from runner.cells import presets

    wanted = {cell.name for cell in manifest().select(None, None, False)} | set(presets.preset("stacks").cells)
    assert wanted <= set(minimal.declared()), wanted - set(minimal.declared())
    for name, app in minimal.declared().items():
        assert len(app.follows) > 40 and "documentation" not in app.app, name  # named for pages, not generic
        assert manifest().cell(*name.split("/")).is_python == (app.server != "go"), name


def test_each_pair_is_a_group_of_its_own_with_no_anchor():
    needs = {f"cell{i}{side}": 72 for i in range(5) for side in ("", " (minimal)")}
    pairs = [[f"cell{i}", f"cell{i} (minimal)"] for i in range(5)]
    assert schedule.plan_groups(needs, available=300, anchor=None, pairs=pairs) == pairs
    with pytest.raises(DbbenchError, match="cell0 and cell0 \\(minimal\\) would open 144 connections"):
        schedule.plan_groups(needs, available=100, anchor=None, pairs=pairs)


def pair(ratio: float, ci: list[float], cell_us: float, app_us: float) -> dict:
    cell = {"name": "fastapi/sa-orm", "status": "ok", "clean": True, "cpu_us_per_request": {"server": cell_us},
            "minimal": None}
    app = {"name": "fastapi/sa-orm (minimal)", "status": "ok", "clean": True,
           "cpu_us_per_request": {"server": app_us}, "minimal": {"app": "fastapi_sqlalchemy_orm"}}
    return {"found": {"ratio": ratio, "ci95": ci}, "cell": cell, "minimal": app}


@pytest.mark.parametrize("ratio, ci, said", [
    (0.927, [0.883, 0.965], "**below 0.97**: +80.0 µs of server CPU per request"),
    (0.99, [0.975, 1.005], "at or above 0.97"),
    (1.04, [0.974, 1.107], "at or above 0.97"),
    (0.99, [0.95, 1.03], "too wide to say"),
    (1.05, [1.01, 1.09], "faster than its minimal app"),
    (None, None, "no ratio: fastapi/sa-orm: failed (verification: values)"),
])
def test_the_verdict_is_what_the_interval_says_against_the_bar(ratio, ci, said):
    row = pair(ratio, ci, 1080.0, 1000.0)
    if ratio is None:
        row["cell"].update(status="failed", reason="verification: values")
    assert said in parity.verdict(row["found"], row["cell"], row["minimal"])


def test_a_run_records_the_published_parity_and_its_report_states_it(parity_run, tmp_path, monkeypatch):
    """A run records the published ratios (docs/parity/) at its start, with their date and commit, and
    its report states them from its own results; with none published, it says nothing of parity."""
    from runner.base import paths
    from runner.report import tables

    example = results.load(paths.REPO / "docs" / "example" / "results.json")
    monkeypatch.setattr(paths, "PARITY_DIR", tmp_path / "parity")
    assert parity.published_summary() is None and "**Parity**" not in tables.render_markdown(example)
    published = results.load(parity_run[0] / "results.json")
    parity.publish(published)
    assert (tmp_path / "parity" / "README.md").read_text() == parity.render(published)
    example["metadata"]["run"]["parity_published"] = parity.published_summary()
    line = next(line for line in tables.render_markdown(example).splitlines() if line.startswith("- **Parity**"))
    commit = published["metadata"]["project"]["git_commit"][:12]
    assert published["metadata"]["run"]["started_at"][:10] in line and commit in line
    assert re.search(r"fastapi/raw \d\.\d{3} \[\d\.\d{3}–\d\.\d{3}\]", line)
    others = [cell["name"] for cell in example["cells"] if cell["status"] == "ok" and cell["name"] != "fastapi/raw"]
    assert others and "not measured: " + ", ".join(others) in line


@pytest.mark.parametrize("flags", [["--cell", "fastapi/raw"], ["--budget", "60s"], ["--quick"]])
def test_publishing_asks_for_a_full_run_of_every_cell_at_the_defaults_in_one_line(flags):
    result = dbbench("parity", "--publish", *flags)
    assert result.returncode != 0 and "--publish records a full run" in result.stderr
    assert result.stderr.strip().count("\n") == 0
