"""For the commands that take one cell at a time (soak, faults): each cell measured in turn, its
record written as soon as it is known."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from runner.base import instants
from runner.cells import builds
from runner.report.results import write_json


def cell_by_cell(selected: list, document: dict, path: Path, section: str, measure: Callable[[Any], dict],
                 empty: dict) -> None:
    """For the commands that take one cell at a time (soak, faults): a cell that cannot run
    here is recorded as skipped with its reason, the file is rewritten after every cell, and
    the end time is written whatever ends the loop."""
    try:
        for item in selected:  # a cell, or a run's instance of one (its own name, its `cell`)
            ok, detail = builds.availability(getattr(item, "cell", item))
            if not ok:
                document["cells"].append({"name": item.name, "status": "skipped", "reason": detail, **empty})
                continue
            document["cells"].append(measure(item))
            write_json(document, path)
        document["complete"] = True
    finally:
        document["metadata"][section]["finished_at"] = instants.utc_now()
        write_json(document, path)
