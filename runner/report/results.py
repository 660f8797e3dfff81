"""Stored results: the versioned results.json, written atomically after every slice.

Raw per-slice values are what is stored; medians, intervals, ratios, flags and ranks are
derived from them by `finalize`, at run time and again whenever a report is rendered.

Schema history (keep old files readable: `upgrade` brings them to the current version):
- 1: one measured run per cell and round (`rounds`), cold cells, intervals over rounds.
- 2: warm cells measured in short interleaved slices (`slices`, each with its group, round
  and host noise), groups and an anchor, blocked ratios (`summary.comparisons`), the
  stopping rule and its reason."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
from pathlib import Path

import jsonschema

from runner.base.errors import DbbenchError
from runner.report import stats

SCHEMA_VERSION = 2
SCHEMA_FILE = Path(__file__).with_name("results.schema.json")


def estimate_of(cell: dict) -> stats.Estimate | None:
    """A cell's throughput from its used slices: the median and its interval that finalize stores."""
    return stats.estimate([piece["rps"] for piece in used_slices(cell)])


def used_slices(cell: dict) -> list[dict]:
    """The slices the estimates use: for each group and round the last undisturbed slice (else
    the last one); never one measured while PostgreSQL did not answer."""
    chosen: dict[tuple[int, int], dict] = {}
    for piece in cell["slices"]:
        if piece.get("database") == "unreachable":
            continue
        key = (piece["group"], piece["round"])
        previous = chosen.get(key)
        if previous is None or not piece.get("disturbed") or previous.get("disturbed"):
            chosen[key] = piece
    return list(chosen.values())


def disturbed_counts(documents: list[dict]) -> tuple[int, int, int, int]:
    """The runs' disturbed slices, all their slices, the disturbed ones the figures use, and all
    those used: what every page that states figures says of them."""
    every = [piece for document in documents for cell in document["cells"] for piece in cell["slices"]]
    used = [piece for document in documents for cell in document["cells"] for piece in used_slices(cell)]
    return (sum(1 for piece in every if piece.get("disturbed")), len(every),
            sum(1 for piece in used if piece.get("disturbed")), len(used))


def blocks_of(cells: list[dict]) -> dict[str, dict[tuple[int, int], float]]:
    """Each clean cell's used throughput by (group, round): the blocks every paired ratio is
    taken within."""
    return {cell["name"]: {(piece["group"], piece["round"]): piece["rps"] for piece in used_slices(cell)}
            for cell in cells if cell.get("clean")}


def clean(cell: dict, used: list[dict]) -> bool:
    return cell["status"] == "ok" and bool(used) and all(s["errors"] == 0 and s["non_2xx"] == 0 for s in used)


def is_open_loop(document: dict) -> bool:
    """A constant-rate run (run --rate): its throughput is the rate it was given, so it ranks
    nothing; its figures are latencies and whether each cell held its rate."""
    return bool(document["metadata"]["run"].get("open_loop"))


def finalize(document: dict) -> dict:
    """Derive each cell's estimates, flags and rank, and the run's comparisons and noise."""
    machine = document["metadata"].get("machine", {})
    run = document["metadata"]["run"]
    cores = machine.get("cpus_available") or machine.get("cpu_count") or 1
    threads = run.get("wrk_threads", 1)
    db_cores = next((host["cores"] for host in document["metadata"].get("hosts") or []
                     if host["roles"] == ["db"] and isinstance(host["cores"], int)), None)
    for cell in document["cells"]:
        used = used_slices(cell)
        found = estimate_of(cell)
        cell["rps_median"] = round(found.median, 2) if found else None
        cell["rps_mean"] = round(found.mean, 2) if found else None
        cell["rps_ci95"] = [round(x, 2) for x in found.ci95] if found and found.ci95 else None
        cell["rps_cv"] = round(found.cv, 4) if found and found.cv is not None else None
        cell["slices_used"] = len(used)
        cell["latency_ms"] = stats.percentile_medians(used)
        cell["cpu_cores"] = stats.cpu_utilisation(used)
        cell["cpu_us_per_request"] = stats.cpu_per_request(used)
        cell["open_loop"] = stats.open_loop_summary(used)
        cell["memory_mib"] = stats.memory_of(used, cell.get("workers") or cell.get("server_cpus") or 1)
        flags = stats.busy_flags(used, threads, cores, cell["server_cpus"], db_cores) if used else []
        if cell["open_loop"] and not cell["open_loop"]["held"]:
            flags.insert(0, "rate-not-held")
        if any(s["errors"] or s["non_2xx"] for s in used):
            flags.insert(0, "errors")
        if any(s.get("database") == "unreachable" for s in cell["slices"]):
            flags.append("db-outage")
        if found and found.cv is not None and found.cv > stats.NOISY_CV:
            flags.append("noisy")
        cell["flags"] = flags
        cell["clean"] = clean(cell, used)
    blocks = {} if is_open_loop(document) else blocks_of(document["cells"])
    anchor = run.get("anchor") if run.get("anchor") in blocks else None
    comparison = stats.BlockedComparison(blocks, anchor=anchor)
    ranks, adjacent = comparison.rank(blocks) if blocks else ({}, [])
    for cell in document["cells"]:
        cell["rank"] = ranks.get(cell["name"])
    order = [adjacent[0][0], *(below for _, below, _ in adjacent)] if adjacent else list(ranks)
    document["summary"] = {
        "ranking": order,
        "comparisons": [] if is_open_loop(document) else parity_comparisons(document["cells"], comparison)
        if run.get("parity") else comparisons(
            document["cells"], comparison, adjacent, (run.get("preset") or {}).get("prices", [])),
        "smallest_detectable": _rounded(comparison.smallest_detectable(blocks)),
        "noise": noise_summary(document["cells"]),
    }
    widths = [c["half_width"] for c in document["summary"]["comparisons"]]
    document["summary"]["worst_half_width"] = None if not widths or None in widths else max(widths)
    return document


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _comparison(kind: str, a: str, b: str, ratio: stats.Ratio | None) -> dict:
    if ratio is None:
        return {"kind": kind, "a": a, "b": b, "ratio": None, "ci95": None, "n": 0, "paired": False,
                "half_width": None, "tie": True}
    return {"kind": kind, "a": a, "b": b, **ratio.as_dict(), "half_width": _rounded(ratio.half_width)}


def comparisons(cells: list[dict], comparison: stats.BlockedComparison, adjacent: list,
                prices: list[dict] = ()) -> list[dict]:
    """Every ratio the report shows, each with its interval: each cell's share of the reference,
    each variant over its framework's raw (the ORM tax), each ranked cell over the next, in a
    paired sweep each point over its cell's best point, and a preset's prices (its pairs of cells)."""
    clean_cells = {c["name"]: c for c in cells if c["clean"]}
    found = []
    references: dict = {}
    for cell in clean_cells.values():
        if cell.get("reference") and cell["variant"] == "raw":
            references.setdefault(point_value(cell), cell["name"])
    for name, cell in clean_cells.items():
        reference = references.get(point_value(cell))
        if reference and name != reference:
            found.append(_comparison("reference", name, reference, comparison.ratio(name, reference)))
    for name, best in best_points(clean_cells.values()).items():
        if name != best:
            found.append(_comparison("point", name, best, comparison.ratio(name, best)))
    raws = {(c["framework"], instance_of(c)): c["name"] for c in clean_cells.values() if c["variant"] == "raw"}
    for name, cell in clean_cells.items():
        raw = raws.get((cell["framework"], instance_of(cell)))
        if raw and raw != name:
            found.append(_comparison("orm-tax", name, raw, comparison.ratio(name, raw)))
    for above, below, ratio in adjacent:
        found.append(_comparison("ranking", above, below, ratio))
    for price in prices:
        ratio = comparison.ratio(price["a"], price["b"]) if {price["a"], price["b"]} <= set(clean_cells) else None
        found.append({**_comparison("price", price["a"], price["b"], ratio),
                      "choice": price["choice"], "question": price["question"],
                      "memory_per_worker_mib": memory_change(clean_cells.get(price["a"]), clean_cells.get(price["b"]))})
    return found


def parity_comparisons(cells: list[dict], comparison: stats.BlockedComparison) -> list[dict]:
    """A parity run's only ratios: each cell's throughput over its minimal app's, in the same rounds
    (below 1, what the cell's glue costs); no ratio where either is not clean."""
    clean_cells = {c["name"] for c in cells if c["clean"]}
    found = []
    for cell in cells:
        if cell.get("minimal"):
            a, b = cell["minimal"]["of"], cell["name"]
            found.append(_comparison("parity", a, b, comparison.ratio(a, b) if {a, b} <= clean_cells else None))
    return found


def memory_change(a: dict | None, b: dict | None) -> float | None:
    """What a choice adds to (or saves of) each worker's resident memory, MiB; None where either
    cell has no memory recorded."""
    if not a or not b or not a.get("memory_mib") or not b.get("memory_mib"):
        return None
    return round(a["memory_mib"]["per_worker_mib"] - b["memory_mib"]["per_worker_mib"], 1)


def point_value(cell: dict) -> int | None:
    """The sweep point's value of a paired sweep's instance; None in any other run."""
    return (cell.get("point") or {}).get("value")


def best_points(cells) -> dict[str, str]:
    """A paired sweep's instances: each one's name -> its cell's point with the highest median,
    the reference its ratio is taken to."""
    of: dict[str, list[dict]] = {}
    for cell in cells:
        if cell.get("point") and cell.get("rps_median"):
            of.setdefault(cell["point"]["of"], []).append(cell)
    return {cell["name"]: max(points, key=lambda c: c["rps_median"])["name"]
            for points in of.values() for cell in points}


def instance_of(cell: dict) -> str:
    """What tells apart two instances of one cell (" (A)" in an A/A calibration), else ""."""
    return cell["name"].removeprefix(f"{cell['framework']}/{cell['variant']}")


def noise_summary(cells: list[dict]) -> dict:
    """The host's noise over every slice of the run: steal, outside CPU, disturbed slices, and the
    waits for what the last load left in its server (runner/measure/backlog.py)."""
    pieces = [s for c in cells for s in c["slices"] if s.get("noise")]
    steal = [s["noise"]["steal"] for s in pieces]
    outside = [s["noise"]["outside_cores"] for s in pieces]
    waits = [s["backlog"] for s in pieces if s.get("backlog", {}).get("waited_s")]
    return {
        "slices": len(pieces),
        "steal_median": _rounded(stats.median(steal)),
        "steal_worst": _rounded(max(steal, default=None)),
        "outside_cores_median": _rounded(stats.median(outside)),
        "disturbed": sum(1 for s in pieces if s.get("disturbed")),
        "repeated": sum(1 for s in pieces if s.get("repeat")),
        "backlog_waits": len(waits),
        "backlog_waited_s": round(sum(wait["waited_s"] for wait in waits), 1),
        "backlog_unsettled": sum(1 for wait in waits if not wait["settled"]),
        "outside_sources": outside_sources(pieces),
    }


def outside_sources(pieces: list[dict], most: int = 4) -> list[dict]:
    """The heaviest users of the CPU outside the measurement (runner/measure/noise.py), in cores, the
    mean over the slices that say (a source a slice did not name counts 0 there)."""
    said = [s["noise"]["outside_by_source"] for s in pieces if "outside_by_source" in s["noise"]]
    if not said:
        return []
    totals: dict[str, float] = {}
    for by_source in said:
        named = {"runner": by_source["runner"], "unattributed": by_source["unattributed"],
                 "idle cells": by_source.get("idle cells", 0.0),
                 **{f"kernel {name}": cores for name, cores in by_source["kernel"].items() if name != "(rest)"},
                 **{name: cores for name, cores in by_source["other"].items() if name != "(rest)"}}
        for source, cores in named.items():
            totals[source] = totals.get(source, 0.0) + cores
    ranked = sorted(totals.items(), key=lambda item: -item[1])[:most]
    return [{"source": source, "cores_mean": round(total / len(said), 3)} for source, total in ranked]


def worst_half_width(document: dict | None, names: list[str] | None = None) -> float | None:
    """The widest relative interval among the reported ratios (those that involve `names`);
    None while any of them has no interval yet."""
    if document is None or "summary" not in document:
        return None
    # A ratio with a cell of a later group (a preset's price, say) has no interval until that group
    # runs: it cannot hold this group's rounds back.
    waiting = {cell["name"] for cell in document["cells"] if not cell["slices"] and cell["status"] == "ok"} - set(
        names or ())
    chosen = [c for c in document["summary"]["comparisons"] if (names is None or c["a"] in names or c["b"] in names)
              and not {c["a"], c["b"]} & waiting]
    if not chosen or any(c["half_width"] is None for c in chosen):
        return None
    return max(c["half_width"] for c in chosen)


def upgrade(document: dict) -> dict:
    """Bring an older results file to the current schema (its data unchanged)."""
    if document.get("schema_version") == 1:
        for cell in document["cells"]:
            cell["name"] = f"{cell['framework']}/{cell['variant']}"
            cell["slices"] = [{**r, "group": 1, "repeat": False} for r in cell.pop("rounds")]
        run = document["metadata"]["run"]
        run.setdefault("slice_s", run.get("duration_s"))
        run.setdefault("groups", [])
        run.setdefault("anchor", None)
        document["schema_version"] = 2
    return document


def finalize_runs_in(document: dict) -> dict:
    """A latency.json or sweep.json holds runs' results documents: derive each again from its
    raw slices, as `load` does for a results.json, so that a stored file renders with today's
    estimates and intervals."""
    if document.get("closed_loop") is not None:
        document["closed_loop"] = finalize(upgrade(document["closed_loop"]))
    for entry in [*document.get("points", []), *document.get("search", [])]:
        entry["results"] = finalize(upgrade(entry["results"]))
    if document.get("results") is not None:  # a paired sweep: one run, its points as instances
        document["results"] = finalize(upgrade(document["results"]))
    return document


def validate(document: dict) -> None:
    try:
        jsonschema.validate(document, json.loads(SCHEMA_FILE.read_text()))
    except jsonschema.ValidationError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "top level"
        raise DbbenchError(f"results file does not match schema {SCHEMA_VERSION} at {where}: {exc.message}") from None


def write(document: dict, path: Path, compact: bool = False) -> None:
    """The results file with its derived figures, written atomically (write_json)."""
    write_json(finalize(document), path, compact)


def write_page(path: Path, text: str, written: str) -> None:
    """A page written whole (a temporary file renamed); `written` says what is kept if it cannot be."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    except OSError as exc:
        raise DbbenchError(f"cannot write {path}: {exc.strerror}; {written}") from None


def write_json(document: dict, path: Path, compact: bool = False) -> None:
    """Atomic: a reader (or a Ctrl-C) never sees a half-written file, and a write that fails
    (a full disk) leaves the last good file as it was. `compact`: on one line, which json
    writes in C: 0.015 s against 0.05 s indented for a run of 584 slices."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(document, separators=(",", ":")) if compact else json.dumps(document, indent=2)
        tmp.write_text(text + "\n")
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):  # a parent that is not a directory cannot hold the temporary file
            tmp.unlink(missing_ok=True)
        raise DbbenchError(f"cannot write {path}: {exc.strerror or exc}; the last good results file is kept") from None


def check_writable(directory: Path) -> None:
    """Refuse, before anything starts, a results directory that cannot be made or written to:
    a run must never measure for minutes and then have nowhere to keep what it measured."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=directory):
            pass
    except OSError as exc:
        raise DbbenchError(f"cannot write results in {directory}: {exc.strerror or exc}") from None


def new_run_dir(parent: Path) -> Path:
    """results/<UTC time>, never an existing one (two runs can start in the same second)."""
    stamp = time.strftime("%Y-%m-%dT%H-%M-%SZ", time.gmtime())
    candidate, suffix = parent / stamp, 1
    while candidate.exists():
        suffix += 1
        candidate = parent / f"{stamp}-{suffix}"
    return candidate


def point_latest(run_dir: Path) -> None:
    latest = run_dir.parent / "latest"
    tmp = run_dir.parent / ".latest.tmp"
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    tmp.symlink_to(run_dir.name)
    os.replace(tmp, latest)


def read_json(path: Path) -> object:
    """The parsed file, or a one-line error naming it."""
    try:
        return json.loads(path.read_text())
    except OSError as exc:
        raise DbbenchError(f"cannot read {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise DbbenchError(f"{path} is not JSON: {exc}") from None


def load_any(path: str | Path) -> dict:
    """Any file dbbench writes that holds runs (a results.json, a sweep's, a latency search's, a
    lesson's runs or sweeps), each run derived again from its raw slices."""
    path = Path(path)
    if path.is_dir():
        return load(path)
    document = read_json(path)
    kind = (document.get("kind") if isinstance(document, dict) else None) or {
        "sweep.json": "sweep", "latency.json": "latency"}.get(path.name)
    try:
        if kind == "runs":
            document["runs"] = [finalize(upgrade(run)) for run in document["runs"]]
        elif kind == "sweeps":
            for entry in document["sweeps"]:
                finalize_runs_in(entry["sweep"])
        elif kind in ("sweep", "latency"):
            finalize_runs_in(document)
        else:
            return checked(path, document)
    except (KeyError, TypeError) as exc:
        raise DbbenchError(f"{path} is not a dbbench {kind} file: no {exc}") from None
    return document


def load(path: str | Path) -> dict:
    path = Path(path)
    if path.is_dir():
        path = path / "results.json"
    return checked(path, read_json(path))


def checked(path: Path, document: object) -> dict:
    """A parsed results.json upgraded, validated and derived again; a one-line error otherwise."""
    if not isinstance(document, dict) or "schema_version" not in document:
        raise DbbenchError(f"{path} is not a dbbench results file")
    document = upgrade(document)
    version = document["schema_version"]
    if version != SCHEMA_VERSION:
        raise DbbenchError(f"{path} has schema version {version}; this dbbench reads {SCHEMA_VERSION}")
    validate(document)
    return finalize(document)
