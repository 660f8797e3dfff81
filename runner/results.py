"""Stored results: the versioned results.json, written atomically after every round.

Raw per-round values are what is stored; medians, intervals, flags and ranks are derived
from them by `finalize`, at run time and again whenever a report is rendered.

Schema history (keep old files readable):
- 1: first version.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import jsonschema

from runner import statistics
from runner.errors import DbbenchError

SCHEMA_VERSION = 1
SCHEMA_FILE = Path(__file__).with_name("results.schema.json")


def clean(cell: dict) -> bool:
    return cell["status"] == "ok" and all(r["errors"] == 0 and r["non_2xx"] == 0 for r in cell["rounds"])


def finalize(document: dict) -> dict:
    """Derive each cell's estimates, flags and rank from its raw rounds."""
    machine = document["metadata"].get("machine", {})
    cores = machine.get("cpus_available") or machine.get("cpu_count") or 1
    threads = document["metadata"]["run"].get("wrk_threads", 1)
    estimates = {}
    for index, cell in enumerate(document["cells"]):
        rounds = cell["rounds"]
        found = statistics.estimate([r["rps"] for r in rounds])
        cell["rps_median"] = round(found.median, 2) if found else None
        cell["rps_mean"] = round(found.mean, 2) if found else None
        cell["rps_ci95"] = [round(x, 2) for x in found.ci95] if found and found.ci95 else None
        cell["rps_cv"] = round(found.cv, 4) if found and found.cv is not None else None
        cell["latency_ms"] = statistics.percentile_medians(rounds)
        cell["cpu_cores"] = statistics.cpu_utilisation(rounds)
        flags = statistics.busy_flags(rounds, threads, cores, cell["server_cpus"]) if rounds else []
        if any(r["errors"] or r["non_2xx"] for r in rounds):
            flags.insert(0, "errors")
        if found and found.cv is not None and found.cv > statistics.NOISY_CV:
            flags.append("noisy")
        cell["flags"] = flags
        cell["clean"] = clean(cell) and bool(rounds)
        if cell["clean"]:
            estimates[index] = found
    ranks = statistics.rank(estimates)
    for index, cell in enumerate(document["cells"]):
        cell["rank"] = ranks.get(index)
    return document


def validate(document: dict) -> None:
    try:
        jsonschema.validate(document, json.loads(SCHEMA_FILE.read_text()))
    except jsonschema.ValidationError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "top level"
        raise DbbenchError(f"results file does not match schema {SCHEMA_VERSION} at {where}: {exc.message}") from None


def write(document: dict, path: Path) -> None:
    """Atomic: a reader (or a Ctrl-C) never sees a half-written file."""
    finalize(document)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(document, indent=2, sort_keys=False) + "\n")
    os.replace(tmp, path)


def point_latest(run_dir: Path) -> None:
    latest = run_dir.parent / "latest"
    tmp = run_dir.parent / ".latest.tmp"
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    tmp.symlink_to(run_dir.name)
    os.replace(tmp, latest)


def load(path: str | Path) -> dict:
    path = Path(path)
    if path.is_dir():
        path = path / "results.json"
    try:
        document = json.loads(path.read_text())
    except OSError as exc:
        raise DbbenchError(f"cannot read {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise DbbenchError(f"{path} is not JSON: {exc}") from None
    if not isinstance(document, dict) or "schema_version" not in document:
        raise DbbenchError(f"{path} is not a dbbench results file")
    version = document["schema_version"]
    if version != SCHEMA_VERSION:
        raise DbbenchError(f"{path} has schema version {version}; this dbbench reads {SCHEMA_VERSION}")
    validate(document)
    return finalize(document)
