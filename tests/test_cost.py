"""dbbench cost: instructions per request by callgrind's difference method, the attribution by
library, and the run's handling of a cell that cannot be counted and of a machine without valgrind.
No figure is asserted: only ratios a toy's code fixes, and what the records say."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from conftest import DBBENCH, REPO, dbbench

from runner.base import ports
from runner.base.scenarios import Scenario
from runner.cells import lifecycle
from runner.experiments.cost import unit_of
from runner.measure import callgrind, wrk
from runner.report import cost as cost_page
from runner.report import instructions

# Only the tests that run valgrind need it; the report's and the publishing rules' run anywhere.
needs_valgrind = pytest.mark.skipif(not shutil.which("valgrind") or not shutil.which("gcc"),
                                    reason="valgrind (make cost-tools installs it) and gcc")


def toy_scenario(directory: Path, loops: int) -> Scenario:
    """A scenario of one request, GET /loops/LOOPS, for the toy server."""
    script = directory / f"loops-{loops}.lua"
    script.write_text(f'function init(args) end\nfunction request() return wrk.format("GET", "/loops/{loops}") end\n')
    return Scenario(name=f"loops-{loops}", description="toy", script=script, connections=1, threads=1, slice_s=1,
                    warmup_s=0, primer_s=0, endpoints=("by-id",), writes=False)


@pytest.mark.slow
@needs_valgrind
def test_the_difference_method_counts_one_loop_against_two(tmp_path):
    """Per request, a server spinning its loop twice costs the loop once more than spinning it once,
    and once more than not at all: (two - none) / (one - none) is 2, whatever the request's own
    parsing and answering cost, which the difference of two batches cancels with the start-up."""
    port = ports.free_port()
    server = subprocess.Popen([*callgrind.wrapper(tmp_path), sys.executable, str(REPO / "tests" / "costtoy.py"),
                               str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base_url = f"http://127.0.0.1:{port}"
    try:
        lifecycle.wait_answering(base_url, 60, "the toy server did not answer under callgrind", lambda: "")
        callgrind.control("instrument", [server.pid])
        dumped: dict[int, int] = {}
        per_request = {}
        for loops in (0, 1, 2):
            scenario = toy_scenario(tmp_path, loops)
            wrk.send_counted(base_url, scenario, 20, max_id=1, seed=1)  # warm
            counted = {}
            for requests in (10, 60):
                dumps = callgrind.batch([server.pid], tmp_path, dumped,
                                        lambda n=requests, s=scenario: wrk.send_counted(base_url, s, n, max_id=1,
                                                                                         seed=1))
                counted[requests] = dumps[server.pid].total
            per_request[loops] = (counted[60] - counted[10]) / 50
    finally:
        server.terminate()
        server.wait(timeout=30)
    one_loop = per_request[1] - per_request[0]
    assert one_loop > 0.5 * per_request[0], per_request  # the loop is what a request mostly does
    assert (per_request[2] - per_request[0]) / one_loop == pytest.approx(2, rel=0.01), per_request


TOY_LIBRARY = "long {name}(long n) {{ volatile long sum = 0; for (long i = 0; i < n; i++) sum += i; return sum; }}\n"
TOY_MAIN = """long spin_a(long n);
long spin_b(long n);
int main(void) { return (int) ((spin_a(100000) + spin_b(300000)) & 1); }
"""


@needs_valgrind
def test_the_attribution_gives_each_library_its_own_instructions_not_its_callers(tmp_path):
    """A program whose main calls one library's loop 100,000 times and another's 300,000 times:
    the second library's self cost is three times the first's, and main's own is neither."""
    gcc = shutil.which("gcc")
    for name in ("a", "b"):
        (tmp_path / f"lib{name}.c").write_text(TOY_LIBRARY.format(name=f"spin_{name}"))
        subprocess.run([gcc, "-O0", "-shared", "-fPIC", "-o", str(tmp_path / f"libspin{name}.so"),
                        str(tmp_path / f"lib{name}.c")], check=True)
    (tmp_path / "main.c").write_text(TOY_MAIN)
    subprocess.run([gcc, "-O0", "-o", str(tmp_path / "toy"), str(tmp_path / "main.c"), f"-L{tmp_path}",
                    "-lspina", "-lspinb", "-Wl,-rpath," + str(tmp_path)], check=True)
    out = tmp_path / "callgrind.out"
    subprocess.run([callgrind.binary(), "--tool=callgrind", f"--callgrind-out-file={out}", str(tmp_path / "toy")],
                   check=False, capture_output=True, timeout=120)
    units = callgrind.read_dump(out).by(lambda obj, fn: unit_of(obj, fn, go=False))
    assert units["libspinb.so"] / units["libspina.so"] == pytest.approx(3, rel=0.01), units
    assert 0 < units["toy"] < 0.01 * units["libspina.so"], units  # a caller is not given its callees' work


def test_units_fall_into_their_libraries():
    """What the report's "where the instructions go" adds up: objects for Python, packages for Go."""
    assert unit_of("/x/.venvs/sa2/lib/python3.11/site-packages/asyncpg/protocol/protocol.cpython-311.so", "f",
                   go=False) == "site-packages/asyncpg/protocol/protocol.cpython-311.so"
    assert unit_of("/x/bin/gin-abc", "github.com/jackc/pgx/v5/pgconn.(*PgConn).Exec", go=True) == \
        "go:github.com/jackc/pgx/v5/pgconn"
    assert unit_of("/x/bin/gin-abc", "runtime.mallocgc", go=True) == "go:runtime"
    assert unit_of("/usr/lib/x86_64-linux-gnu/libc.so.6", "memcpy", go=True) == "libc.so.6"
    expected = {
        "site-packages/asyncpg/protocol/protocol.cpython-311.so": "driver",
        "site-packages/ujson.cpython-311-x86_64-linux-gnu.so": "JSON",
        "site-packages/uvloop/loop.cpython-311.so": "server",
        "site-packages/pydantic_core/_pydantic_core.so": "framework",
        "site-packages/sqlalchemy/cyextension/resultproxy.so": "ORM",
        "lib-dynload/_asyncio.cpython-311-x86_64-linux-gnu.so": "event loop",
        "libpython3.11.so.1.0": "interpreter",
        "libc.so.6": "C library",
        "go:github.com/gin-gonic/gin": "framework",
        "go:github.com/jackc/pgx/v5/pgconn": "driver",
        "go:net/http": "server",
        "go:runtime": "Go runtime",
        "go:encoding/json": "JSON",
        "go:main": "app",
        "something-else.so": "rest",
    }
    assert {unit: cost_page.category_of(unit) for unit in expected} == expected


def test_without_valgrind_the_command_says_which_package_in_one_line(db_url, tmp_path):
    """Nothing starts, and the error names the package to install."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("wrk", "git", "runuser"):
        found = shutil.which(tool)
        if found:
            os.symlink(found, bin_dir / tool)
    result = dbbench("cost", "--cell", "gin/raw", "--db-url", db_url, "--out", str(tmp_path / "out"),
                     env={"PATH": str(bin_dir)})
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "apt-get install valgrind" in lines[0], result.stderr
    assert not (tmp_path / "out" / "cost").exists()  # no run was begun


@needs_valgrind
def test_a_cost_run_counts_each_cell_and_reports_one_it_cannot(db_url, tmp_path):
    """A cell whose server dies under callgrind (as gin/raw's did on an assertion before Go's
    preemption by signal was turned off; here, killed while it starts) is recorded with its reason
    and the run goes on: gin/raw is verified and counted in repeats of ten times the batches, its
    instructions by Go package."""
    run = subprocess.Popen([*DBBENCH, "cost", "--frameworks", "fastapi,gin", "--variants", "raw", "--requests",
                            "20,120", "--repeats", "2", "--warmup", "50", "--db-url", db_url, "--out", str(tmp_path)],
                           cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    killed = None
    deadline = time.monotonic() + 300
    while killed is None and run.poll() is None and time.monotonic() < deadline:
        for proc in psutil.process_iter(["pid", "cmdline"]):
            words = " ".join(proc.info["cmdline"] or [])
            if "--tool=callgrind" in words and f"{tmp_path}/cost/" in words and "/fastapi-raw/" in words:
                proc.kill()
                killed = proc.info["pid"]
                break
        time.sleep(0.05)
    _, stderr = run.communicate(timeout=600)
    assert killed, "fastapi/raw's server never started under callgrind"
    assert run.returncode == 1, stderr
    run_dir = next((tmp_path / "cost").glob("20*"))
    document = json.loads((run_dir / "cost.json").read_text())
    assert document["complete"] is True
    cells = {cell["name"]: cell for cell in document["cells"]}
    assert list(cells) == ["fastapi/raw", "gin/raw"]
    assert cells["fastapi/raw"]["status"] == "failed"
    assert "under callgrind, fastapi/raw exited" in cells["fastapi/raw"]["reason"], cells["fastapi/raw"]["reason"]
    gin = cells["gin/raw"]
    assert gin["status"] == "ok", gin
    assert gin["verification"]["ok"] is True
    assert gin["requests"] == {"few": 200, "many": 1200}  # Go: ten times the batches, for its collector
    assert [repeat["order"] for repeat in gin["repeats"]] == [[200, 1200], [1200, 200]]
    for repeat in gin["repeats"]:
        assert repeat["instructions_per_request"] > 0
        assert any(unit.startswith("go:github.com/gin-gonic/") for unit in repeat["by_unit"]), repeat["by_unit"]
    page = (run_dir / "cost.md").read_text()
    assert "| gin/raw |" in page and "## Where the instructions go" in page
    assert "Not counted: fastapi/raw (failed: under callgrind" in page


def counted_document(per_request: dict[str, list[float]]) -> dict:
    """A cost run as cost.json holds it, with these instructions per request per repeat."""
    return {"kind": "cost", "metadata": {"project": {"git_commit": "0123456789ab"}, "cost": {
        "started_at": "2026-12-06T18:00:00Z", "tool": "valgrind-3.19.0", "scenario": "by-id",
        "requests": {"few": 100, "many": 600}, "repeats": 3, "warmup_requests": 300, "workers": 1, "pool_size": 4,
        "postgres_counted": None}},
        "cells": [{"name": name, "status": "ok", "reason": None,
                   "repeats": [{"instructions_per_request": value, "other_processes_per_request": 0.0,
                                "postgres_cpu_us_per_request": None,
                                "by_unit": {"libpython3.11.so.1.0": value * 0.9, "libc.so.6": value * 0.1}}
                               for value in values]} for name, values in per_request.items()]}


def test_the_report_states_the_orm_tax_in_instructions_and_whether_throughput_agrees(monkeypatch, tmp_path):
    """A run's report takes the published cost run it recorded at its start: each cell's instructions
    per request, the tax in them, and a word where the throughput's interval does not hold it."""
    from runner.base import paths

    published = counted_document({"fastapi/raw": [700e3, 701e3, 702e3], "fastapi/sa-orm": [2100e3, 2101e3, 2102e3],
                                  "fastapi/sa-core": [1400e3, 1401e3, 1402e3]})
    monkeypatch.setattr(paths, "COST_DIR", tmp_path)
    cost_page.publish(published)
    summary = cost_page.published_summary()
    assert summary["cells"]["fastapi/sa-orm"] == {"median": 2101e3, "low": 2100e3, "high": 2102e3,
                                                  "commit": "0123456789ab",
                                                  "categories": {"interpreter": 1890900, "C library": 210100}}
    assert [run["place"] for run in summary["runs"]] == [tmp_path.name]

    def cell(variant: str) -> dict:
        return {"framework": "fastapi", "variant": variant, "status": "ok", "slices": [], "strategy": "orm"}

    document = {"metadata": {"run": {"scenario": "by-id", "cost_published": summary}},
                "cells": [cell("raw"), cell("sa-orm"), cell("sa-core")],
                "summary": {"comparisons": [
                    {"kind": "orm-tax", "a": "fastapi/sa-orm", "b": "fastapi/raw", "ratio": 0.33,
                     "ci95": [0.31, 0.35]},
                    {"kind": "orm-tax", "a": "fastapi/sa-core", "b": "fastapi/raw", "ratio": 0.6,
                     "ci95": [0.55, 0.7]}]}}
    section = instructions.section(document)
    rows = {row[0]: row for row in section.rows}
    # the medians' ratio, then the lowest and highest two repeats give: 2100/702 and 2102/700
    assert rows["fastapi/sa-orm"][2] == "2.997 [2.991–3.003]" and rows["fastapi/sa-orm"][4] == "agree"
    assert rows["fastapi/sa-core"][2] == "1.999 [1.994–2.003]" and rows["fastapi/sa-core"][4] == \
        "better in throughput than its instructions say"  # 1/1.999 is above [0.55, 0.7]
    price = {"a": "fastapi/sa-orm", "b": "fastapi/raw", "ratio": 0.2, "ci95": [0.18, 0.22]}
    assert instructions.price_text(document, price) == \
        "2.997 [2.991–3.003] × the instructions (worse in throughput than its instructions say)"
    document["metadata"]["run"]["scenario"] = "mix"  # counted on by-id: nothing said of the mix
    assert instructions.section(document) is None and instructions.price_text(document, price) is None


def test_the_matrix_and_the_csv_give_each_counted_cell_its_instructions_and_a_profile_its_callgrind_shares(
        monkeypatch, tmp_path):
    """The committed example run, given a published cost run of two of its cells: each of those
    shows its instructions in the matrix and the CSV, the others nothing; a profiled cell's py-spy
    shares stand beside callgrind's shares of its instructions, each row summing to the whole."""
    from runner.base import paths
    from runner.report import tables

    published = counted_document({"fastapi/raw": [700e3, 701e3, 702e3], "gin/raw": [85e3, 85e3, 86e3]})
    monkeypatch.setattr(paths, "COST_DIR", tmp_path)
    cost_page.publish(published)
    document = json.loads((REPO / "docs" / "example" / "results.json").read_text())
    document["metadata"]["run"]["cost_published"] = cost_page.published_summary()
    matrix = tables.matrix_section(document)
    by_framework = {row[0].split(" ")[0]: row for row in matrix.rows}
    assert " · 701k instr." in by_framework["fastapi"][1] and " · 85k instr." in by_framework["gin"][1]
    assert "instr." not in " ".join(by_framework["sanic"]) and instructions.MATRIX_NOTE in matrix.after
    rows = {row["name"]: row for row in csv.DictReader(io.StringIO(tables.render_csv(document)))}
    assert rows["fastapi/raw"]["instructions_per_request"] == "701000.0"
    assert rows["sanic/raw"]["instructions_per_request"] == ""
    assert instructions.beside_profiles(document) is None  # no cell profiled
    document["cells"][0]["profile"] = {"samples": 1000, "by_category": {"framework": 0.5, "driver": 0.3, "rest": 0.2},
                                       "by_package": {"fastapi": 0.5}}
    beside = instructions.beside_profiles(document)
    assert [row[0] for row in beside.rows] == ["fastapi/raw: py-spy, share of samples",
                                               "fastapi/raw: callgrind, share of instructions"]
    shown = dict(zip(beside.header, beside.rows[1], strict=True))
    assert shown["interpreter"] == "90%" and shown["C library"] == "10%" and shown["framework"] == "0%"
    sampled = dict(zip(beside.header, beside.rows[0], strict=True))
    assert sampled["framework"] == "50%" and sampled["ORM"] == "0%" and sampled["interpreter"] == "n/a"
    document["metadata"]["run"]["scenario"] = "mix"  # counted on by-id: no figure beside another scenario's
    assert "instr." not in " ".join(" ".join(row) for row in tables.matrix_section(document).rows)


def test_every_py_spy_category_has_its_column_beside_callgrind_s():
    from runner.report import profiles

    assert set(profiles.CATEGORIES) <= set(instructions.SHOWN)


def test_publishing_takes_only_the_defaults_and_every_cell_counted():
    """docs/cost/ stands for the default cells at the defaults: an option off them is refused before
    anything runs, and a run in which a cell was not counted is not published."""
    from runner.base.errors import DbbenchError
    from runner.cli import build_parser
    from runner.commands import cost as cost_command

    args = build_parser().parse_args(["cost", "--publish", "--repeats", "2", "--cell", "gin/raw"])
    with pytest.raises(DbbenchError, match="without --cell, --repeats"):
        cost_command.check_publishable(args, cost_command.parser_defaults(cost_command.add_arguments))
    document = counted_document({"fastapi/raw": [1.0, 1.0]})
    document["cells"].append({"name": "gin/raw", "status": "failed", "reason": "why", "repeats": []})
    assert cost_page.unpublishable(document) == "not counted: gin/raw"


def test_a_preset_s_published_run_adds_its_cells_and_names_its_own_commit(monkeypatch, tmp_path):
    """docs/cost/PRESET/ (`dbbench cost --preset NAME --publish`) adds the cells the default run has
    not, so a preset's prices get their instructions too; a cell in both keeps the default run's
    figure, and a price across the two runs names the commit that differs from the run's."""
    from runner.base import paths

    monkeypatch.setattr(paths, "COST_DIR", tmp_path)
    cost_page.publish(counted_document({"fastapi/raw": [700e3, 700e3, 700e3]}))
    stacks = counted_document({"fastapi/raw": [650e3, 650e3, 650e3], "fastapi/tortoise": [1400e3, 1400e3, 1400e3]})
    stacks["metadata"]["project"]["git_commit"] = "fedcba987654"
    cost_page.publish(stacks, "stacks")
    assert (tmp_path / "stacks" / "README.md").read_text().startswith(
        "# dbbench cost: instructions per request, by-id, preset `stacks`")
    summary = cost_page.published_summary()
    assert summary["cells"]["fastapi/raw"]["median"] == 700e3 and summary["cells"]["fastapi/raw"]["commit"] == \
        "0123456789ab"
    assert summary["cells"]["fastapi/tortoise"]["median"] == 1400e3
    assert summary["cells"]["fastapi/tortoise"]["commit"] == "fedcba987654"
    document = {"metadata": {"run": {"scenario": "by-id", "cost_published": summary},
                             "project": {"git_commit": "0123456789ab"}}}
    price = {"a": "fastapi/tortoise", "b": "fastapi/raw", "ratio": 0.5, "ci95": [0.45, 0.55]}
    # both cells from the run that counted both: 1400k over the stacks run's 650k, not the default run's 700k
    assert instructions.price_text(document, price) == "2.154 [2.154–2.154] × the instructions (agree)"
    assert cost_page.pair(summary, "fastapi/tortoise", "fastapi/raw")[1]["median"] == 650e3
    assert "commit fedcba9" in instructions.other_commit(document, summary, ["fastapi/tortoise", "fastapi/raw"])
    assert instructions.other_commit(document, summary, ["fastapi/raw"]) is None
    mix = counted_document({"fastapi/piccolo": [900e3, 900e3, 900e3]})
    mix["metadata"]["cost"]["scenario"] = "mix"
    cost_page.publish(mix, "on-mix")
    assert "fastapi/piccolo" not in cost_page.published_summary()["cells"], "another scenario's run is left out"


def test_publishing_a_preset_is_the_defaults_too(monkeypatch):
    from runner.cli import build_parser
    from runner.commands import cost as cost_command
    from runner.measure import metadata

    monkeypatch.setattr(metadata, "collect_project", lambda: {"git_dirty": False})
    args = build_parser().parse_args(["cost", "--publish", "--preset", "stacks"])
    cost_command.check_publishable(args, cost_command.parser_defaults(cost_command.add_arguments))



@needs_valgrind
def test_minimal_counts_each_cell_then_its_minimal_app_and_says_what_the_glue_costs(db_url, tmp_path):
    """--minimal counts gin/raw, then its minimal app (apps/gin/minimal/) served in its place,
    verified by by-id's values and statements, the same way; cost.md divides the two."""
    result = dbbench("cost", "--cell", "gin/raw", "--minimal", "--requests", "20,60", "--repeats", "2", "--warmup",
                     "50", "--db-url", db_url, "--out", str(tmp_path), timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    run_dir = next((tmp_path / "cost").glob("20*"))
    document = json.loads((run_dir / "cost.json").read_text())
    cells = {cell["name"]: cell for cell in document["cells"]}
    assert list(cells) == ["gin/raw", "gin/raw (minimal)"]
    app = cells["gin/raw (minimal)"]
    assert app["status"] == "ok" and app["verification"]["ok"] is True, app
    assert app["minimal"]["of"] == "gin/raw" and app["statements_per_request"]["lookup"] == 1
    assert all(repeat["instructions_per_request"] > 0 for repeat in app["repeats"])
    page = (run_dir / "cost.md").read_text()
    assert "## The glue in instructions" in page and "| gin/raw | `" in page
    assert "## The ORM tax in instructions" not in page, "a minimal app is no variant of its cell"


@needs_valgrind
@needs_valgrind
def test_connections_counts_requests_sent_so_many_at_a_time_and_the_page_says_so(db_url, tmp_path):
    """--connections 8: wrk keeps eight in flight while each batch is counted, as a run's load keeps
    64 (where a Python server's garbage collector runs, which one at a time it need not); every
    batch is answered in full, and cost.json and cost.md record how it was sent."""
    result = dbbench("cost", "--cell", "fastapi/raw", "--connections", "8", "--pool-size", "8", "--requests",
                     "20,120", "--repeats", "2", "--warmup", "50", "--db-url", db_url, "--out", str(tmp_path),
                     timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    run_dir = next((tmp_path / "cost").glob("20*"))
    document = json.loads((run_dir / "cost.json").read_text())
    assert document["metadata"]["cost"]["connections"] == 8
    (cell,) = document["cells"]
    assert cell["status"] == "ok" and all(repeat["instructions_per_request"] > 0 for repeat in cell["repeats"])
    assert "requests 8 at a time" in (run_dir / "cost.md").read_text()


def test_a_published_cost_run_is_one_request_at_a_time_and_older_runs_read_so():
    from runner.base.errors import DbbenchError
    from runner.cli import build_parser
    from runner.commands import cost as cost_command

    args = build_parser().parse_args(["cost", "--publish", "--connections", "64"])
    with pytest.raises(DbbenchError, match="without --connections"):
        cost_command.check_publishable(args, cost_command.parser_defaults(cost_command.add_arguments))
    assert cost_page.in_flight_text({}) == "one after the other"
    assert "one after the other" in cost_page.render(counted_document({"fastapi/raw": [1.0, 1.0]}))


def test_minimal_is_refused_in_one_line_where_no_minimal_app_serves():
    for args, said in ((["--cell", "flask/raw"], "has no minimal app"),
                       (["--cell", "gin/raw", "--scenario", "mix"], "serve by-id alone")):
        # refused before any database is reached: this URL is never dialled, and its lock is its own
        result = dbbench("cost", "--minimal", *args, "--db-url", "postgresql://nobody@127.0.0.1:9/none")
        assert result.returncode == 2 and said in result.stderr, result.stderr
        assert "Traceback" not in result.stderr


def test_the_glue_row_divides_a_cell_by_its_minimal_app_and_names_where_they_differ():
    document = counted_document({"sanic/raw": [500e3, 501e3, 502e3], "sanic/raw (minimal)": [400e3, 400e3, 401e3]})
    document["cells"][1]["minimal"] = {"app": "sanic_asyncpg", "of": "sanic/raw", "follows": "Sanic's docs."}
    for cell, extra in zip(document["cells"], (20e3, 0.0), strict=True):
        for repeat in cell["repeats"]:
            repeat["top_functions"] = {"json_dumps [libpython]": 10e3 + extra, "poll [libc.so.6]": 5e3}
    for repeat in document["cells"][0]["repeats"]:  # in the cell's list alone: the app's is at most its last, 5k
        repeat["top_functions"]["parse [libpython]"] = 90e3
    [row] = cost_page.glue(document)
    assert row[:6] == ["sanic/raw", "`sanic_asyncpg`", "501k", "400k", "1.252", "1.247–1.255"]
    assert row[7].startswith("parse +85.0k, json_dumps +20.0k")
    assert cost_page.orm_tax(document) == []
