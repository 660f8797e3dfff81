"""dbbench verify: every selected cell checked against the database, not measured."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from runner.base import paths
from runner.base.console import err
from runner.base.errors import DbbenchError
from runner.cells import builds, lifecycle
from runner.commands import arguments
from runner.commands.arguments import seeded_url, warn_about_cores
from runner.db import database, proxy, roles

if TYPE_CHECKING:
    from runner.verify.verdict import VerdictsFile

HELP = "check every selected cell against the database (values, statuses, statements); exit 0 only if all pass"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    arguments.add_selection_args(parser, default="every cell")
    arguments.add_workers(parser)
    parser.add_argument("--pool-size", type=arguments.positive_int, default=8, help="per worker (default 8)")
    parser.add_argument("--scenario", type=arguments.scenarios_arg, default=["by-id"],
                        help="check the endpoints of these scenarios (a list, or all; default by-id)")
    parser.add_argument("--json", metavar="FILE",
                        help="also write each cell's verdict here: its checks, and the statements it sent by endpoint")
    arguments.add_db_url(parser)
    arguments.add_db_latency(parser)
    arguments.add_lock_args(parser)


def run(args) -> int:
    from pathlib import Path

    from runner.base import scenarios
    from runner.verify import verdict

    selected = arguments.selected_cells(args, every_cell_by_default=True)
    warn_about_cores(args.workers, "--workers")
    chosen = [scenarios.load_scenario(name) for name in args.scenario]
    endpoints = tuple(e for e in scenarios.ENDPOINTS if any(e in scenario.endpoints for scenario in chosen))
    weights = chosen[0].endpoint_weights if len(chosen) == 1 else None
    url, users = seeded_url(args.db_url)
    kept = verdict.VerdictsFile(Path(args.json), {
        "kind": "verify", "scenarios": args.scenario, "endpoints": list(endpoints),
        "database": database.mask_url(url), "cells": {}}) if args.json else None
    with proxy.between(url, args.db_latency, paths.state_home() / "logs" / "verify-toxiproxy.log") as (
            cell_url, _):
        failed = verify_cells(selected, url, cell_url, args, endpoints, weights, users, kept)
    return 1 if failed else 0


def verify_cells(selected, url: str, cell_url: str, args, endpoints: tuple[str, ...],
                 weights: dict[str, float] | None, users: int, kept: VerdictsFile | None = None) -> int:
    """Verify each cell in turn, print the table (and keep each verdict, with --json); the
    number that did not pass."""
    table = Table("cell", "verdict", "statements per request / first failure", box=None)
    failed = 0

    def row(name: str, verdict: str, detail: str, found=None) -> None:
        style = {"pass": "green", "FAIL": "red", "skipped": "yellow"}[verdict]
        detail = database.scrub(detail, url)
        table.add_row(name, f"[{style}]{verdict}[/]", escape(detail))
        if kept is not None:
            kept.add(name, verdict, detail, found)

    for cell in selected:
        ok, detail = builds.availability(cell)
        if not ok:
            row(cell.name, "skipped", detail)
            failed += 1
            continue
        unserved = cell.unserved(endpoints)
        if unserved:
            row(cell.name, "skipped", unserved)
            failed += 1
            continue
        if cell.redundant(endpoints):
            row(cell.name, "skipped", cell.redundant(endpoints))
            continue
        err.print(f"verifying {cell.name} ...")
        try:
            verdict = verify_cell(cell, url, cell_url, args, endpoints, weights, users)
        except DbbenchError as exc:
            row(cell.name, "FAIL", str(exc))
            failed += 1
            continue
        if verdict.ok:
            shown = ", ".join(f"{k} {v:g}" for k, v in verdict.statements_per_request.items()) or "; ".join(
                f"{endpoint}: " + ", ".join(f"{k} {v:g}" for k, v in figures.items())
                for endpoint, figures in verdict.by_endpoint.items())
            if verdict.round_trip_ms is not None:
                shown += f"; lookup p50 {verdict.round_trip_ms:.1f} ms (+{args.db_latency} ms round trip)"
            row(cell.name, "pass", shown, verdict)
        else:
            row(cell.name, "FAIL", verdict.first_failure or "", verdict)
            failed += 1
    Console(width=200).print(table)
    return failed


def verify_cell(cell, url: str, cell_url: str, args, endpoints: tuple[str, ...], weights: dict[str, float] | None,
                users: int):
    """Start one cell on a free port (connected through `cell_url`), verify the endpoints
    against the database at `url`, stop it."""
    from runner.verify import verifier

    process = lifecycle.CellProcess.on_free_port(
        cell, workers=args.workers, pool_size=args.pool_size, users=users,
        log_path=paths.state_home() / "logs" / f"verify-{cell.framework.name}-{cell.variant.name}.log")
    login = roles.login_for(url, cell_url, cell.name)
    with process:
        process.start(login.url)
        process.wait_ready()
        return verifier.verify_running(process, url, login, endpoints=endpoints, weights=weights,
                                           db_latency_ms=args.db_latency)
