"""dbbench list: every cell, and whether it can run here."""

from __future__ import annotations

import argparse

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from runner.cells import builds, catalog

HELP = "every cell, and whether it can run here"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """No options: it lists every declared cell."""


def run(args) -> int:
    table = Table("framework", "variant", "strategy", "server", "runs here", "behind a pooler", box=None)
    legacy: dict[str, list[str]] = {}
    unfit: dict[str, list[str]] = {}
    for cell in catalog.manifest().cells():
        ok, detail = builds.availability(cell)
        if cell.legacy:
            legacy.setdefault(cell.legacy, []).append(cell.name)
        behind = cell.settings_for("pgbouncer")
        if isinstance(behind, str):
            unfit.setdefault(behind, []).append(cell.name)
        table.add_row(
            cell.framework.name, cell.variant.name + (" (legacy)" if cell.legacy else ""), cell.variant.strategy,
            cell.framework.server, escape(("yes: " if ok else "no: ") + detail),
            "no (below)" if isinstance(behind, str) else "yes",
        )
    console = Console(width=200)
    console.print(table)
    for why, names in legacy.items():
        console.print(escape(f"legacy ({len(names)} cells): {why}"))
    for why, names in unfit.items():
        console.print(escape(f"not behind a transaction pooler ({', '.join(names)}): {why}"))
    return 0
