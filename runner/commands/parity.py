"""dbbench parity: each cell against its minimal app (apps/minimal/), paired; parity.md beside the run."""

from __future__ import annotations

import argparse
import dataclasses
import sys

from runner.base import paths
from runner.base.console import err
from runner.base.errors import DbbenchError
from runner.commands import arguments
from runner.commands.arguments import run_options

HELP = "each cell against the minimal app its libraries' documentation would have a user write, paired"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    arguments.add_selection_args(parser, default="every cell that has a minimal app")
    arguments.add_measurement_args(parser)
    arguments.add_run_precision_args(parser)
    parser.add_argument("--profile", action="store_true",
                        help="after each pair's rounds, sample the cell's server and its minimal app's with py-spy: "
                             "parity.md says which libraries' shares of the samples differ")
    parser.add_argument("--publish", action="store_true",
                        help="also write the run to docs/parity/ (results.json and README.md), whose figures every "
                             "report's method section states; a run of every cell with a minimal app, committed code")


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
                          parity=True, profile=args.profile)
    named = args.cell or args.frameworks or args.variants
    if not (named or args.all or args.preset):  # by default, every cell that has a minimal app
        options = dataclasses.replace(options, everything=True)
    cells = options.selected_cells()
    if args.publish:
        check_publishable(args, named)
    if named:  # cells named one by one: each must have its app
        for cell in cells:
            minimal.minimal_app_of(cell)
    else:
        left_out = [cell.name for cell in cells if cell.name not in minimal.declared()]
        if left_out and (args.all or args.preset):
            err.print(f"dbbench parity: left out, with no minimal app declared: {', '.join(left_out)}")
        options = dataclasses.replace(options, only=[cell.name for cell in cells if cell.name in minimal.declared()])
        if not options.only:
            raise DbbenchError("no selected cell has a minimal app (apps/minimal/minimal.toml)")
    runner = Run(options)
    path = runner.run_dir / "parity.md"
    document = None
    try:
        code = execute(runner)
    finally:  # what was measured gets its page, whatever ended the run
        if runner.results_path.exists():
            document = results.load(runner.results_path)
            try:
                path.write_text(parity.render(document))
            except OSError as exc:
                raise DbbenchError(f"cannot write {path}: {exc.strerror}; the run is kept in "
                                   f"{runner.results_path}") from None
    if code is not None:
        return code
    sys.stdout.write(path.read_text())
    err.print(f"results: {runner.results_path} (parity.md beside it)")
    if args.publish:
        refused = parity.unpublishable(document)
        if refused:
            raise DbbenchError(f"not published: {refused}; the run is kept in {runner.results_path}")
        parity.publish(document)
        err.print(f"published: {paths.PARITY_DIR.relative_to(paths.REPO)}/results.json and README.md")
    return 0


def check_publishable(args, named) -> None:
    """What docs/parity/ holds is every cell with a minimal app, from committed code, at full length."""
    from runner.measure import metadata

    changed = [flag for flag, given in (
        ("a selection", named or args.all or args.preset), ("--quick", args.quick), ("--rounds", args.rounds),
        ("--budget", args.budget), ("--precision", args.precision), ("--slice", args.slice),
        ("--connections", args.connections), ("--workers", args.workers != 1), ("--pool-size", args.pool_size),
        ("--db-latency", args.db_latency), ("--proxy", args.proxy)) if given]
    if changed:
        raise DbbenchError("--publish records a full run of every cell with a minimal app at the defaults, "
                           f"which every report cites: without {', '.join(changed)}")
    if metadata.collect_project()["git_dirty"]:
        raise DbbenchError("--publish measures committed code: commit or stash the changes first")
