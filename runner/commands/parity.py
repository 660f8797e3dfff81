"""dbbench parity: each cell against its minimal app (apps/minimal/), paired; parity.md beside the run."""

from __future__ import annotations

import argparse
import dataclasses
import sys

from runner.base.console import err
from runner.base.errors import DbbenchError
from runner.commands import arguments
from runner.commands.arguments import run_options

HELP = "each cell against the minimal app its libraries' documentation would have a user write, paired"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    arguments.add_selection_args(parser, default="the default cells that have a minimal app")
    arguments.add_measurement_args(parser)
    arguments.add_run_precision_args(parser)


def run(args) -> int:
    """One run whose members are each selected cell and its minimal app; parity.md from its results."""
    from runner.cells import minimal
    from runner.measure.run import Run, execute
    from runner.report import parity, results

    if args.scenario != ["by-id"]:
        raise DbbenchError("dbbench parity measures by-id, the one endpoint the minimal apps serve")
    if args.pooler:
        raise DbbenchError("dbbench parity runs each minimal app with its documentation's driver defaults, "
                           "which a transaction pooler does not take: run it without --pooler")
    chosen = arguments.selection(args)
    chosen.pop("preset", None)  # its cells, not its prices: a parity run's ratios are its own
    options = run_options(args, **chosen, rounds=args.rounds, precision=args.precision, quick=args.quick,
                          parity=True)
    cells = options.selected_cells()
    if args.cell or args.frameworks or args.variants:  # cells named one by one: each must have its app
        for cell in cells:
            minimal.minimal_app_of(cell)
    else:
        left_out = [cell.name for cell in cells if cell.name not in minimal.declared()]
        if left_out:
            err.print(f"dbbench parity: left out, with no minimal app declared: {', '.join(left_out)}")
        options = dataclasses.replace(options, only=[cell.name for cell in cells if cell.name in minimal.declared()])
        if not options.only:
            raise DbbenchError("no selected cell has a minimal app (apps/minimal/minimal.toml)")
    runner = Run(options)
    code = execute(runner)
    path = runner.run_dir / "parity.md"
    if runner.results_path.exists():
        path.write_text(parity.render(results.load(runner.results_path)))
    if code is not None:
        return code
    sys.stdout.write(path.read_text())
    err.print(f"results: {runner.results_path} (parity.md beside it)")
    return 0
