"""A parity run's report: each cell's throughput over its minimal app's, paired, with the CPU
each spends on a request; a cell whose interval lies wholly below PARITY_BAR is flagged with
the difference. Rendered from the run's results.json alone. The published run (docs/parity/)
is summarised into each later run's results at its start, for its report's method section."""

from __future__ import annotations

from runner.base import paths
from runner.base.errors import DbbenchError
from runner.report import profiles, results
from runner.report.formatting import commit_text, comparisons_of, fmt_ratio, fmt_us, md_table

PARITY_BAR = 0.97  # a cell within 3% of its minimal app is at parity


def ratio_text(found: dict) -> str:
    """0.927 [0.883–0.974]: three places, since the bar is 3%; judged against 0.97, so no (tie)."""
    return fmt_ratio(found, digits=3, ties=False)


def server_us(cell: dict | None) -> float | None:
    return ((cell or {}).get("cpu_us_per_request") or {}).get("server")


def verdict(found: dict, cell: dict, minimal: dict) -> str:
    """What the interval says against the bar, and where it is below, the CPU the cell spends more."""
    if found.get("ratio") is None:
        why = [f"{c['name']}: {c['status']}" + (f" ({c['reason']})" if c.get("reason") else "")
               for c in (cell, minimal) if c["status"] != "ok" or not c.get("clean")]
        return "no ratio: " + ("; ".join(why) if why else "fewer than two rounds")
    ci = found.get("ci95")
    if ci is None:
        return "no interval yet (one round)"
    if ci[1] < PARITY_BAR:
        mine, theirs = server_us(cell), server_us(minimal)
        more = f": {mine - theirs:+.1f} µs of server CPU per request" if mine is not None and theirs is not None else ""
        return f"**below {PARITY_BAR}**{more}"
    if ci[0] > 1:
        return "faster than its minimal app"
    if ci[0] >= PARITY_BAR:
        return f"at or above {PARITY_BAR}"
    return f"not shown below {PARITY_BAR}, nor at or above it (the interval is too wide to say)"


def rows(document: dict) -> list[dict]:
    """Each pair: the comparison, the cell's record and its minimal app's."""
    cells = {cell["name"]: cell for cell in document["cells"]}
    return [{"found": found, "cell": cells[found["a"]], "minimal": cells[found["b"]]}
            for found in comparisons_of(document, "parity").values()]


def render(document: dict) -> str:
    run = document["metadata"]["run"]
    project = document["metadata"]["project"]
    noise = document.get("summary", {}).get("noise", {})
    commit = commit_text(project, 12)
    pools = sorted({(c["pool_size"], c["workers"]) for c in document["cells"]})
    out = [
        "# Parity: each cell against its minimal app", "",
        "Each cell's throughput over its minimal app's: the by-id endpoint as its libraries' documentation "
        "writes it (apps/minimal/), on the cell's server with the same workers and pool size; each pair up on "
        "its own, its two servers' slices alternating in a shuffled order. The ratio is the geometric mean of "
        "within-round ratios, with its 95% interval; below 1, the cell's glue costs throughput. A cell whose "
        f"interval lies wholly below {PARITY_BAR} is flagged with the server CPU it spends more per request; "
        f"one whose interval lies wholly at or above {PARITY_BAR} is not 3% slower than its app (it may be "
        "faster); between the two, the interval is too wide to say.", "",
        f"Run of {run['started_at']}, commit {commit}, scenario {run['scenario']}, {run['connections']} "
        f"connections, slices of {run['slice_s']} s; pools per worker and workers: "
        + ", ".join(f"{size} × {workers}" for size, workers in pools)
        + f"; {noise.get('slices', 0)} slices, {noise.get('disturbed', 0)} disturbed, steal median "
          f"{(noise.get('steal_median') or 0):.1%}; stopped: {run.get('stop_reason') or 'not finished'}.", "",
    ]
    table = [[f"`{row['cell']['name']}`", f"`{row['minimal']['minimal']['app']}`", ratio_text(row["found"]),
              fmt_us(server_us(row["cell"])), fmt_us(server_us(row["minimal"])),
              verdict(row["found"], row["cell"], row["minimal"])] for row in rows(document)]
    out += [md_table(["cell", "minimal app", "cell / minimal", "cell server µs/req", "minimal server µs/req",
                      "verdict"], table)]
    shifts = [(row["cell"]["name"], profiles.moved_in(document, row["found"])) for row in rows(document)]
    if any(shift for _, shift in shifts):
        out += ["", "## Where the CPU differs", "",
                "py-spy's samples of each server on a load of its own after the pair's rounds: the libraries whose "
                "share of the samples differs most, the cell's over its minimal app's, in percentage points.", ""]
        out += [f"- `{name}`: {shift}" for name, shift in shifts if shift]
    out += ["", "## What each minimal app follows", ""]
    apps = {(m["app"], m["server"]): m["follows"] for m in (row["minimal"]["minimal"] for row in rows(document))}
    out += [f"- `{app}` ({server}): {follows}" for (app, server), follows in apps.items()]
    return "\n".join(out) + "\n"


def unpublishable(document: dict) -> str | None:
    """Why a finished parity run cannot be what every report cites, or None: each pair must have run."""
    missing = [row["cell"]["name"] for row in rows(document) if row["found"].get("ci95") is None]
    failed = [cell["name"] for cell in document["cells"] if cell["status"] != "ok"]
    if failed or missing:
        return f"not every pair gave a ratio with an interval ({', '.join(failed or missing)})"
    return None


def publish(document: dict) -> None:
    """docs/parity/: the run's results, then its page, each written whole (a temporary file renamed)."""
    results.write(document, paths.PARITY_DIR / "results.json", compact=True)  # thousands of slices: one line
    results.write_page(paths.PARITY_DIR / "README.md", render(document), "docs/parity/results.json is written")


def published_summary() -> dict | None:
    """The published run's ratios, with when, at which commit and how they were measured: what a run
    records at its start, so that its report states them from its own results. None where none is
    published, or it cannot be read (the report then has no parity line)."""
    path = paths.PARITY_DIR / "results.json"
    if not path.exists():
        return None
    try:
        document = results.load(path)
    except DbbenchError:
        return None
    run = document["metadata"]["run"]
    return {"started_at": run["started_at"], "commit": document["metadata"]["project"].get("git_commit"),
            "scenario": run["scenario"], "connections": run["connections"], "slice_s": run["slice_s"],
            "ratios": {row["cell"]["name"]: {"ratio": row["found"]["ratio"], "ci95": row["found"]["ci95"]}
                       for row in rows(document)}}


def method_text(summary: dict | None, cells: list[str]) -> str | None:
    """The report's parity line: the published ratio of each of these cells to its minimal app; None
    where the run recorded no published parity run, or it holds none of these cells."""
    if not summary:
        return None
    found = summary["ratios"]
    shown = [f"{name} {ratio_text(found[name])}" for name in cells if name in found]
    if not shown:
        return None
    missing = [name for name in cells if name not in found]
    return (f"each cell's throughput over its minimal app's, as published in docs/parity/ when this run began "
            f"(measured {summary['started_at'][:10]} at commit {(summary.get('commit') or '?')[:12]}, "
            f"{summary['scenario']}, {summary['connections']} connections, the rule's pools): " + "; ".join(shown)
            + (f"; not measured: {', '.join(missing)}" if missing else ""))
