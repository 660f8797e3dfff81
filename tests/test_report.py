"""The HTML report and its figures, rendered from stored runs and opened in a real headless
Chromium: offline, no console errors, not blank, every figure, every ranked cell.

The stored run is the README's example (docs/example), a real `make bench-db` run; a copy of
it gets a failed and a skipped cell, as a run records them. Nothing here measures anything.
"""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
from pathlib import Path

import pytest
from browser import open_page, visible_text
from conftest import REPO, dbbench

from runner.report import about, formatting, page, results, stats, tables

EXAMPLE = REPO / "docs" / "example"
FAILED, SKIPPED = "sanic/gino-orm", "fastapi/gino-baked"
FAILED_REASON = "verification: values: id 17 answered full_name 'x', the database has 'y'"
SKIPPED_REASON = "needs Go 1.26 (found none)"


@pytest.fixture(scope="module")
def troubled(tmp_path_factory) -> Path:
    """The example run with one cell failed at verification and one skipped."""
    document = json.loads((EXAMPLE / "results.json").read_text())
    by_name = {c["name"]: c for c in document["cells"]}
    failed = by_name[FAILED]
    failed.update(status="failed", reason=FAILED_REASON, slices=[])
    failed["verification"]["ok"] = False
    failed["verification"]["checks"][1].update(ok=False, detail="id 17 answered full_name 'x', the database has 'y'")
    by_name[SKIPPED].update(status="skipped", reason=SKIPPED_REASON, slices=[], verification=None,
                            statements_per_request={})
    path = tmp_path_factory.mktemp("troubled") / "results.json"
    path.write_text(json.dumps(document))
    return path


@pytest.fixture(scope="module")
def troubled_page(troubled) -> Path:
    written = dbbench("report", str(troubled), "--format", "html", check=True).stdout.split()
    assert written == [str(troubled.parent / "report.html")]
    return troubled.parent / "report.html"


def test_the_page_renders_from_a_stored_run_with_failed_and_skipped_cells(troubled, troubled_page):
    text = visible_text(troubled_page.read_text())
    assert f"{FAILED}: failed: {FAILED_REASON}" in text
    assert f"{SKIPPED}: skipped: {SKIPPED_REASON}" in text
    assert "Verification" in text and "failed" in text and "not verified" in text
    # The throughput figure keeps both cells' rows and says why they have no bar.
    throughput = re.search(r'<figure id="figure-throughput">.*?</figure>', troubled_page.read_text(), re.S).group(0)
    assert FAILED in throughput and "failed: verification" in throughput
    assert SKIPPED in throughput and "skipped: needs Go" in throughput
    document = results.load(troubled)
    assert document["cells"][[c["name"] for c in document["cells"]].index(FAILED)]["rank"] is None


def test_the_page_asks_no_other_host_for_anything(troubled_page):
    source = troubled_page.read_text()
    assert "http://" not in source and "https://" not in source and "@import" not in source
    assert not re.search(r"<(link|img|iframe|object|embed)\b", source)
    references = re.findall(r'\b(?:src|href)\s*=\s*"([^"]*)"', source) + re.findall(r"url\(([^)]*)\)", source)
    assert references and all(ref.startswith("#") for ref in references), references


@pytest.mark.slow
def test_the_page_opens_in_chromium_with_every_figure(troubled, troubled_page, tmp_path):
    opened = open_page(troubled_page, tmp_path)
    assert opened.console == []
    assert opened.requests == []
    assert opened.inked() > 0.05 and opened.colours() > 50
    assert opened.dom.count("<figure ") == 5 == len(re.findall(r"<svg\b", opened.dom))
    text = opened.text()
    ranked = [c["name"] for c in results.load(troubled)["cells"] if c.get("rank")]
    assert len(ranked) == 5
    for name in ranked:
        assert name in text
    assert '<table class="sortable">' in opened.dom


@pytest.mark.slow
def test_the_browser_check_can_fail(tmp_path):
    """A console error and a request to another host are both caught: the checks above can fail."""
    bad = tmp_path / "bad.html"
    bad.write_text('<!doctype html><p>x</p><img src="https://example.invalid/x.png">'
                   '<script>console.error("boom"); missing();</script>')
    opened = open_page(bad, tmp_path / "bad", height=200)
    assert any("boom" in line for line in opened.console)
    assert any("missing is not defined" in line for line in opened.console)
    assert opened.requests == ["https://example.invalid/x.png"]


def test_png_and_svg_figures_are_written_beside_the_results(troubled, tmp_path):
    for fmt in ("png", "svg"):
        out = tmp_path / fmt
        written = [Path(line) for line in dbbench("report", str(troubled), "--format", fmt, "--out", str(out),
                                                  check=True).stdout.split()]
        names = sorted(path.name for path in written)
        assert names == sorted(f"{name}.{fmt}" for name in ("throughput", "orm-tax", "cpu", "latency", "stability"))
        assert all(path.parent == out / "figures" and path.stat().st_size > 5000 for path in written)
    assert (tmp_path / "png" / "figures" / "cpu.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_readme_figure_comes_from_the_committed_results(tmp_path):
    """The committed figures are what `dbbench report` draws from the committed results.json."""
    dbbench("report", str(EXAMPLE / "results.json"), "--format", "svg", "--out", str(tmp_path), check=True)
    for committed in (EXAMPLE / "figures").glob("*.svg"):
        assert (tmp_path / "figures" / committed.name).read_text() == committed.read_text(), committed.name
    assert "docs/example/figures/" in (REPO / "README.md").read_text()
    assert "dbbench report docs/example/results.json" in (REPO / "docs" / "report.md").read_text()


def test_report_out_is_only_for_files(tmp_path):
    result = dbbench("report", str(EXAMPLE / "results.json"), "--format", "csv", "--out", str(tmp_path))
    assert result.returncode == 2 and "--out is for html, png and svg" in result.stderr
    assert "Traceback" not in result.stderr


def test_cpu_per_request_is_the_stored_cpu_seconds_over_the_requests():
    """Each party's µs per request, recomputed here from the raw slices, is what the results,
    the Markdown, the CSV and the page show."""
    document = results.load(EXAMPLE / "results.json")
    rows = {row["name"]: row for row in csv.DictReader(io.StringIO(tables.render_csv(document)))}
    markdown = tables.render_markdown(document)
    html = page.render(document, svgs={})
    for cell in document["cells"]:
        used = results.used_slices(cell)
        requests = sum(s["requests"] for s in used)
        assert requests > 0
        for party in ("server", "postgres", "wrk"):
            expected = sum(s["cpu_seconds"][party] for s in used) / requests * 1e6
            assert cell["cpu_us_per_request"][party] == pytest.approx(expected, abs=0.06)
            assert float(rows[cell["name"]][f"{party}_us_per_request"]) == pytest.approx(expected, abs=0.06)
        server, postgres, wrk = (cell["cpu_us_per_request"][p] for p in ("server", "postgres", "wrk"))
        line = (f"| {cell['name']} | {formatting.fmt_rps(cell['rps_median'])} | {formatting.spr_text(cell)} | "
                f"{server:,.0f} | {postgres:,.0f} | {wrk:,.0f} | {server + postgres + wrk:,.0f} |")
        assert line in markdown
        assert f"<td>{cell['name']}</td>" in html


def test_cpu_per_request_is_a_ratio_of_sums_and_unknown_stays_unknown():
    slices = [{"requests": 1000, "cpu_seconds": {"server": 0.5, "postgres": 0.2, "wrk": 0.05}},
              {"requests": 3000, "cpu_seconds": {"server": 0.9, "postgres": 0.6, "wrk": 0.15}}]
    assert stats.cpu_per_request(slices) == {"server": 350.0, "postgres": 200.0, "wrk": 50.0}
    external = [{"requests": 100, "cpu_seconds": {"server": 0.01, "postgres": None, "wrk": 0.001}}]
    assert stats.cpu_per_request(external) == {"server": 100.0, "postgres": None, "wrk": 10.0}
    assert stats.cpu_per_request([]) == {"server": None, "postgres": None, "wrk": None}


def test_the_waits_for_a_last_loads_backlog_are_counted_in_the_host_noise_line():
    """Slices that first waited for the requests the last load abandoned say so in the report,
    with the ones that gave up; a run whose slices never waited says nothing of it."""
    document = results.load(EXAMPLE / "results.json")
    pieces = [piece for cell in document["cells"] for piece in cell["slices"]]
    for piece in pieces:
        piece["backlog"] = {"waited_s": 0.0, "settled": True}
    results.finalize(document)
    quiet = dict(about.method_facts(document))["Host noise"]
    assert "waited" not in quiet
    pieces[0]["backlog"] = {"waited_s": 1.25, "settled": True}
    pieces[1]["backlog"] = {"waited_s": 2.5, "settled": False}
    pieces[2]["backlog"] = {"waited_s": 0.0, "settled": True}
    noise = results.finalize(document)["summary"]["noise"]
    assert (noise["backlog_waits"], noise["backlog_waited_s"], noise["backlog_unsettled"]) == (2, 3.8, 1)
    line = dict(about.method_facts(document))["Host noise"]
    assert "2 slices first waited 3.8 s in all for the requests the last load left in its server " \
           "(1 gave up waiting)" in line, line


SKEWED_RPS = [535, 540, 545, 535, 538, 300, 310, 441, 290, 542, 539, 305]


def test_skewed_slices_render_every_figure_and_every_value_lies_in_its_interval(tmp_path):
    """The shape that ended a run in a traceback: a cell whose few slow slices put the median
    outside the stored Student t interval of the mean. Rendered again from its slices, the cell
    gets an interval of its median; every figure draws, and every value lies in its interval."""
    document = json.loads((EXAMPLE / "results.json").read_text())
    cell = next(c for c in document["cells"] if c["name"] == "fastapi/gino-orm")
    cell["slices"] = [s for s in cell["slices"] if not s["disturbed"] and not s["repeat"]][:len(SKEWED_RPS)]
    for piece, rps in zip(cell["slices"], SKEWED_RPS, strict=True):
        piece["rps"] = rps
        piece["requests"] = int(rps * piece["duration_s"])
    cell.update(rps_median=441.82, rps_ci95=[451.65, 542.81])  # as that run stored them: no longer derived
    path = tmp_path / "results.json"
    path.write_text(json.dumps(document))
    written = dbbench("report", str(path), "--format", "html", check=True)
    assert "Traceback" not in written.stderr and "not drawn" not in written.stderr, written.stderr
    figures_written = dbbench("report", str(path), "--format", "png", check=True).stdout.split()
    assert len(figures_written) == 5
    again = results.load(path)
    for found in again["cells"]:
        assert found["rps_ci95"][0] <= found["rps_median"] <= found["rps_ci95"][1], found["name"]
    skewed = next(c for c in again["cells"] if c["name"] == "fastapi/gino-orm")
    assert skewed["rps_median"] == 535 and skewed["rps_ci95"] == [305, 540]
    markdown = dbbench("report", str(path), check=True).stdout
    assert "535 [305–540]" in markdown and "±" not in markdown.split("## Requests per second")[1].split("##")[0]
    for comparison in again["summary"]["comparisons"]:
        if comparison["ci95"]:
            assert comparison["ci95"][0] <= comparison["ratio"] <= comparison["ci95"][1]


def test_a_figure_that_cannot_be_drawn_is_left_out_with_one_line_and_the_page_is_written(tmp_path, monkeypatch,
                                                                                          capsys):
    from runner.report import figures

    def broken(_document):
        raise ValueError("'xerr' must not contain negative values")

    monkeypatch.setitem(figures.FIGURES, "throughput", ("Throughput by cell", broken))
    written = page.write(results.load(EXAMPLE / "results.json"), tmp_path)
    assert tmp_path / "report.html" in written
    assert sorted(p.name for p in (tmp_path / "figures").glob("*.svg")) == [
        "cpu.svg", "latency.svg", "orm-tax.svg", "stability.svg"]
    notes = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert notes == ["dbbench: warning: figure throughput not drawn: ValueError: 'xerr' must not contain negative "
                     "values"]


def test_stored_latency_and_sweep_files_render_with_the_medians_own_intervals(tmp_path):
    """latency.json and sweep.json hold runs' results: each is derived again from its slices, so a
    file written before the order-statistics interval renders with it (three slices per rate here:
    too few for one, and the table says none rather than a t interval)."""
    shutil.copytree(EXAMPLE / "latency", tmp_path / "latency")
    source = tmp_path / "latency" / "latency.json"
    stored = json.loads(source.read_text())
    for point in stored["points"]:  # as a file written with t intervals of the mean stored them
        for cell in point["results"]["cells"]:
            if cell.get("open_loop"):
                cell["open_loop"]["latency_ms"]["p99"]["ci95"] = [0.001, 99999.0]
    source.write_text(json.dumps(stored))
    again = results.finalize_runs_in(json.loads(source.read_text()))
    assert not any(cell["open_loop"]["latency_ms"]["p99"]["ci95"] for point in again["points"]
                   for cell in point["results"]["cells"] if cell.get("open_loop")), "3 slices give no interval"
    shown = dbbench("report", str(source), check=True).stdout
    assert "±" not in shown and "latency against offered load" in shown.lower()
    assert dbbench("report", str(source.parent), "--format", "html", check=True).returncode == 0
    assert (tmp_path / "latency" / "figures" / "latency-load.svg").stat().st_size > 5000


def test_an_slo_no_rate_met_gives_a_bracket_below_the_first_miss_not_from_zero(monkeypatch):
    from runner.experiments import latency
    row = {"name": "fastapi/raw", "slo_rps": None, "missed_at": 400.0, "blocked": None, "unresolved": 200.0,
           "peak_rps": 900.0, "peak_rank": 1, "at_slo": None, "slo_rank": None}
    monkeypatch.setattr(latency, "objective_of", lambda document: latency.Objective.parse("p99=50ms"))
    monkeypatch.setattr(latency, "slo_rows", lambda document: [row])
    (shown,) = latency.slo_section({}).rows
    assert shown[3] == "below 400" and "0 –" not in " ".join(shown)
    assert "p99 unresolved up to 200" in shown[2]
    row.update(slo_rps=300.0, unresolved=None)
    assert latency.slo_section({}).rows[0][3] == "300 – 400"
