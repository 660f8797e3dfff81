"""dbbench list: every cell, and whether it can run here; then what each variant is, the
environment each stack is, and what a framework's figures include that others' do not
(apps/cells.toml's `summary` and `note`)."""

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
    manifest = catalog.manifest()
    for cell in manifest.cells():
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
    variants = Table("variant", "stack", "what it is", box=None, title="variants", title_justify="left")
    for variant in manifest.variants.values():
        kinds = {framework.kind for framework in manifest.frameworks.values() if variant.name in framework.variants}
        stack = variant.stack or ("(Go)" if kinds == {"go"} else "(the framework's)")
        variants.add_row(variant.name, stack, escape(variant.summary))
    console.print(variants)
    for name, stack in manifest.stacks.items():
        console.print(escape(f"stack {name} ({stack['lock']}): {stack['summary']}"))
    for framework in manifest.frameworks.values():
        if framework.note:
            console.print(escape(f"note on {framework.name}: {framework.note}"))
    return 0
