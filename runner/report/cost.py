"""cost.md: a dbbench cost run's instructions per request, the ORM tax counted in them, and where
they go, from its cost.json alone."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

from runner.base import paths
from runner.report.formatting import md_table
from runner.report.profiles import LIBRARIES
from runner.report.results import write_json, write_page

# A Go program's packages, by prefix; the first group that names one wins.
GO_LIBRARIES = {
    "framework": ("github.com/gin-gonic/", "github.com/gin-contrib/"),
    "ORM": ("gorm.io/",),
    "driver": ("github.com/jackc/",),
    "server": ("net/http", "net", "bufio", "vendor/golang.org/x/net/"),
    "JSON": ("encoding/json", "github.com/goccy/go-json", "github.com/bytedance/sonic", "github.com/json-iterator/"),
    "app": ("main",),
    "Go runtime": ("runtime", "sync", "internal/", "reflect", "syscall", "time", "strconv", "fmt", "strings",
                   "bytes", "unicode", "sort", "io", "os", "context", "errors", "math", "type:", "type.", "go:"),
}
CATEGORIES = ("interpreter", "framework", "ORM", "driver", "server", "event loop", "JSON", "app", "C library",
              "Go runtime", "rest")
SHOWN_DIFFERENCES = 3
def category_of(unit: str) -> str:
    """A stored unit (an object file, or a Go package as "go:net/http") as a category of CATEGORIES:
    the interpreter runs every library's pure-Python code, so that code is counted there."""
    if unit.startswith("go:"):
        package = unit[3:]
        for category, prefixes in GO_LIBRARIES.items():
            if any(package == prefix.rstrip("/") or package.startswith(prefix) for prefix in prefixes):
                return category
        return "rest"
    if unit.startswith(("site-packages/", "lib-dynload/")):
        module = unit.split("/", 2)[1].split(".", 1)[0]
        if unit.startswith("lib-dynload/"):
            module = module.lstrip("_")
        return next((category for category, names in LIBRARIES.items() if module in names), "rest")
    if unit.startswith(("libpython", "python")):
        return "interpreter"
    if unit.startswith(("libc.so", "libm.so", "ld-linux", "libpthread")):
        return "C library"
    return "rest"


def per_request(cell: dict) -> list[float]:
    return [repeat["instructions_per_request"] for repeat in cell.get("repeats", [])]


def median(cell: dict) -> float | None:
    values = per_request(cell)
    return statistics.median(values) if values else None


def spread(values: list[float]) -> str:
    """The repeats' range as ± half of it, relative to their median."""
    if len(values) < 2:
        return "—"
    return f"±{(max(values) - min(values)) / 2 / statistics.median(values):.2%}"


def by_category(cell: dict) -> dict[str, float]:
    """Instructions per request by category, the median over the repeats."""
    found: dict[str, list[float]] = {}
    for repeat in cell.get("repeats", []):
        summed: dict[str, float] = {}
        for unit, count in repeat["by_unit"].items():
            summed[category_of(unit)] = summed.get(category_of(unit), 0.0) + count
        for category, count in summed.items():
            found.setdefault(category, []).append(count)
    return {category: statistics.median(found[category]) for category in CATEGORIES if category in found}


def thousands(value: float | None) -> str:
    if value is None:
        return "—"
    return "<1k" if 0 < abs(value) < 500 else f"{value / 1000:,.0f}k"


def postgres_us(cell: dict) -> str:
    """The median over the repeats, and their range: a CPU time, which the host's noise moves."""
    values = [r["postgres_cpu_us_per_request"] for r in cell.get("repeats", [])
              if r.get("postgres_cpu_us_per_request") is not None]
    if not values:
        return "—"
    shown = f"{statistics.median(values):.0f}"
    return shown + (f" ({min(values):.0f}–{max(values):.0f})" if len(values) > 1 else "")


def ratio_of(mine: list[float], theirs: list[float]) -> tuple[str, str]:
    """Two cells' repeats as one ratio: the medians' ("2.750"), and the lowest and highest any two of
    their repeats give ("2.749–2.755")."""
    return (f"{statistics.median(mine) / statistics.median(theirs):.3f}",
            f"{min(mine) / max(theirs):.3f}–{max(mine) / min(theirs):.3f}")


def orm_tax(document: dict) -> list[list[str]]:
    """Each variant over its framework's raw cell, from the medians; in brackets the lowest and
    highest ratio any pair of their repeats gives."""
    counted = {cell["name"]: per_request(cell) for cell in document["cells"]
               if per_request(cell) and not cell.get("minimal")}
    rows = []
    for name, values in counted.items():
        framework, _, variant = name.partition("/")
        raw = counted.get(f"{framework}/raw")
        if variant == "raw" or not raw:
            continue
        rows.append([framework, variant, *ratio_of(values, raw)])
    return rows


def top_functions(cell: dict) -> dict[str, float]:
    """Each of the top functions' instructions per request (its own, not its callees'), the median
    over the repeats that list it; by name alone, so that a Go function compares across two
    programs (stored as "name [object file]")."""
    found: dict[str, list[float]] = {}
    for repeat in cell.get("repeats", []):
        by_name: dict[str, float] = {}
        for name, value in repeat.get("top_functions", {}).items():  # one name in two objects: summed
            by_name[name.rsplit(" [", 1)[0]] = by_name.get(name.rsplit(" [", 1)[0], 0.0) + value
        for name, value in by_name.items():
            found.setdefault(name, []).append(value)
    return {name: statistics.median(values) for name, values in found.items()}


def moved_text(mine: dict[str, float], theirs: dict[str, float], digits: int = 0) -> str:
    """The keys whose instructions per request differ most: "interpreter +120k, driver −3k"."""
    moved = {key: mine.get(key, 0.0) - theirs.get(key, 0.0) for key in {*mine, *theirs}}
    biggest = sorted(moved.items(), key=lambda item: (-abs(item[1]), item[0]))[:SHOWN_DIFFERENCES]
    return ", ".join(f"{key} {'+' if change >= 0 else '−'}{abs(change) / 1000:,.{digits}f}k"
                     for key, change in biggest)


def bounded(mine: dict[str, float], theirs: dict[str, float]) -> tuple[dict, dict]:
    """Two top-function lists, a function missing from one counted there at that list's last entry:
    it is below it there, or not called at all, so the difference shown is the least it can be
    (counted as 0, it could be overstated by up to that entry)."""
    floor_mine, floor_theirs = min(mine.values(), default=0.0), min(theirs.values(), default=0.0)
    names = {*mine, *theirs}
    return ({name: mine.get(name, floor_mine) for name in names},
            {name: theirs.get(name, floor_theirs) for name in names})


def glue(document: dict) -> list[list[str]]:
    """Each cell over its minimal app (dbbench cost --minimal): what the cell does beyond the
    documentation's code, in instructions, and where the difference lies."""
    counted = {cell["name"]: cell for cell in document["cells"] if per_request(cell)}
    rows = []
    for name, cell in counted.items():
        app = counted.get(f"{name} (minimal)")
        if app is None:
            continue
        mine, theirs = per_request(cell), per_request(app)
        rows.append([name, f"`{app['minimal']['app']}`", thousands(median(cell)), thousands(median(app)),
                     *ratio_of(mine, theirs),
                     moved_text(by_category(cell), by_category(app), 1),
                     moved_text(*bounded(top_functions(cell), top_functions(app)), 1)])
    return rows


def differences(document: dict) -> list[str]:
    """For each variant, the categories whose instructions per request differ most from its
    framework's raw cell: where its price comes from."""
    shares = {cell["name"]: by_category(cell) for cell in document["cells"]
              if cell.get("repeats") and not cell.get("minimal")}
    lines = []
    for name, mine in shares.items():
        framework, _, variant = name.partition("/")
        raw = shares.get(f"{framework}/raw")
        if variant == "raw" or raw is None:
            continue
        lines.append(f"- **{name}** against {framework}/raw: {moved_text(mine, raw)}")
    return lines


def one_at_a_time(meta: dict) -> bool:
    """Sent one after the other: every run before `--connections`, and every published one."""
    return meta.get("connections", 1) == 1


def in_flight_text(meta: dict) -> str:
    """How the batches were sent: one after the other, or so many at a time, where a Python
    server's garbage collector runs as under a run's load."""
    return "one after the other" if one_at_a_time(meta) else f"{meta['connections']} at a time"


def render(document: dict, preset: str | None = None) -> str:
    meta = document["metadata"]["cost"]
    few, many = meta["requests"]["few"], meta["requests"]["many"]
    counted = [cell for cell in document["cells"] if cell.get("repeats")]
    rows = []
    for cell in document["cells"]:
        values = per_request(cell)
        others = [r["other_processes_per_request"] for r in cell.get("repeats", [])]
        status = cell["status"] + (f": {cell['reason']}" if cell.get("reason") else "")
        rows.append([cell["name"], thousands(median(cell)), spread(values),
                     thousands(statistics.median(others)) if any(others) else "—", postgres_us(cell), status])
    postgres = meta.get("postgres_counted")
    parts = [
        f"# dbbench cost: instructions per request, {meta['scenario']}"
        + (f", preset `{preset}`" if preset else "") + "\n",
        f"Each cell's server ran under callgrind ({meta['tool']}) with {meta['workers']} worker and a pool of "
        f"{meta['pool_size']}. Once verified and sent {meta['warmup_requests']} requests to warm it, it was sent "
        f"{few} and then {many} of the scenario's requests {in_flight_text(meta)}"
        + ("" if one_at_a_time(meta) else " (wrk stops each batch with the other connections' requests in "
                                          "flight, alike for both batches, so they cancel)")
        + " (the order alternating over "
        f"{meta['repeats']} repeats), its counters zeroed before each batch and dumped after it"
        + (f"; a Go server {meta['go_batch_scale']} times as many, its garbage collector running by heap growth"
           if meta.get("go_batch_scale", 1) > 1 else "")
        + ". Instructions per request are the many-batch's instructions minus the few-batch's, over the difference "
        "in requests: start-up and each batch's fixed part cancel; work the server does on a clock (its event "
        "loop's timers, Go's collector) is counted per request at callgrind's pace. A first batch of the few and "
        "the many, counted and discarded, takes what a first zeroing set off in the server. The figure is the "
        "median of the repeats, with half their range beside it. Instructions do not count waiting, cache misses "
        "or the kernel: they are what the process asked of the CPU, not how long the CPU took.\n",
        "PostgreSQL is not counted in instructions: "
        + (f"its figure is the {postgres} per request, by the same difference, in µs, with the repeats' "
           "range: a time, which the host's noise moves"
           + (", taken with one request at a time, so that each statement wakes its backend."
              if one_at_a_time(meta) else ".")
           if postgres else "it was not on this host, so its CPU time could not be read.") + "\n",
        md_table(["cell", "instructions per request", "repeats", "other processes of the server",
                  "PostgreSQL CPU µs per request", "status"], rows) + "\n",
        "\"Other processes\": a server's processes besides the one that answered (Sanic's and granian's "
        "managers), per request by the same difference; they work on a clock, not per request.\n",
    ]
    tax = orm_tax(document)
    if tax:
        parts += ["## The ORM tax in instructions\n",
                  "Each variant's instructions per request over its framework's raw cell (medians); in "
                  "brackets, the lowest and highest ratio any two of their repeats give.\n",
                  md_table(["framework", "variant", "ratio to raw", "repeats' range"], tax) + "\n"]
    if counted:
        shares = {cell["name"]: by_category(cell) for cell in counted}
        present = [category for category in CATEGORIES if any(category in found for found in shares.values())]
        table = [[name, *(thousands(found.get(category)) for category in present)] for name, found in shares.items()]
        parts += ["## Where the instructions go\n",
                  "Instructions per request of the answering process by where they ran: its object file (a C "
                  "extension belongs to its package), or for Go the package of the function. The interpreter "
                  "runs the pure-Python code of every library, so a Python framework's or ORM's own code is "
                  "counted there; `dbbench run --profile` splits that part by library from py-spy's samples.\n",
                  md_table(["cell", *present], table) + "\n"]
        moved = differences(document)
        if moved:
            parts += ["Where each variant's price comes from, the categories that differ most from its "
                      "framework's raw cell, per request:\n", "\n".join(moved) + "\n"]
    found = glue(document)
    if found:
        parts += ["## The glue in instructions\n",
                  "Each cell's instructions per request over its minimal app's (`apps/minimal/`: the by-id "
                  "endpoint as its libraries' documentation writes it, on the same server, worker and pool), "
                  f"counted the same way {in_flight_text(meta)}; above 1, the cell's code asks more of the CPU than "
                  "the documentation's. The repeats' range: the lowest and highest ratio any two of their repeats "
                  "give. Where the difference lies: the categories, then the functions (their own instructions, "
                  "from each side's top 40; one missing from a side's list counted there at its last entry, so "
                  "that the difference shown is the least it can be) that differ most, per request.\n",
                  md_table(["cell", "minimal app", "cell", "minimal app", "cell over app", "repeats' range",
                            "by category", "by function"], found) + "\n"]
    left = [cell for cell in document["cells"] if cell["status"] != "ok"]
    if left:
        parts.append("Not counted: " + "; ".join(f"{cell['name']} ({cell['status']}: {cell['reason']})"
                                                 for cell in left) + ".\n")
    return "\n".join(parts)


def published_dir(preset: str | None) -> Path:
    """docs/cost/ for the default cells, docs/cost/PRESET/ for a preset's."""
    return paths.COST_DIR / preset if preset else paths.COST_DIR


def publish(document: dict, preset: str | None = None) -> None:
    """docs/cost/ (or docs/cost/PRESET/): the run's cost.json, then its page, each written whole."""
    directory = published_dir(preset)
    directory.mkdir(parents=True, exist_ok=True)
    write_json(document, directory / "cost.json")
    write_page(directory / "README.md", render(document, preset), f"{directory / 'cost.json'} is written")


def unpublishable(document: dict) -> str | None:
    """Why a run cannot stand for the published figures: a cell not counted."""
    left = [cell["name"] for cell in document["cells"] if cell["status"] != "ok"]
    return f"not counted: {', '.join(left)}" if left else None


def published_summary() -> dict | None:
    """The published runs' instructions per request (docs/cost/ for the default cells, each
    docs/cost/PRESET/ for a preset's), with when, at which commit and on which scenario: what a run
    records at its start, so that its report states them from its own results. `cells` holds the
    default run's cells, then a preset run's the default run has not; `runs` each run's own, so that
    a ratio takes both cells from one run where one counted both. None where the default run is not
    published or cannot be read."""
    summary = None
    for path in [paths.COST_DIR / "cost.json", *sorted(paths.COST_DIR.glob("*/cost.json"))]:
        try:
            document = json.loads(path.read_text())
            meta = document["metadata"]["cost"]
            commit = document["metadata"]["project"].get("git_commit")
            cells = {cell["name"]: {"median": median(cell), "low": min(per_request(cell)),
                                    "high": max(per_request(cell)), "commit": commit,
                                    "categories": {name: round(value) for name, value in by_category(cell).items()}}
                     for cell in document["cells"] if per_request(cell) and not cell.get("minimal")}
        except (OSError, ValueError, KeyError, TypeError):
            if summary is None:
                return None
            continue
        run = {"place": str(path.parent.relative_to(paths.COST_DIR.parent)), "started_at": meta["started_at"],
               "commit": commit, "cells": cells}
        if summary is None:
            summary = {"started_at": meta["started_at"], "commit": commit, "scenario": meta["scenario"],
                       "tool": meta["tool"], "cells": cells, "runs": [run]}
        elif meta["scenario"] == summary["scenario"]:
            summary["cells"] = {**cells, **summary["cells"]}
            summary["runs"].append(run)
    return summary


def pair(summary: dict, a: str, b: str) -> tuple[dict, dict] | None:
    """Two cells' published figures, both from one run where one counted both (a summary recorded
    before runs were kept apart has only `cells`); else each from the run that stands for it."""
    for run in summary.get("runs", []):
        if a in run["cells"] and b in run["cells"]:
            return run["cells"][a], run["cells"][b]
    found = summary["cells"].get(a), summary["cells"].get(b)
    return found if all(found) else None
