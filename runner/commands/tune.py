"""dbbench tune: a pool-size sweep per cell; the smallest pool as good as the best is recorded for run."""

from __future__ import annotations

import argparse
import dataclasses

from runner.base.console import err
from runner.base.errors import DbbenchError
from runner.commands import arguments
from runner.commands.arguments import run_options

HELP = ("measure pool sizes per cell, paired; record the smallest as good as the best, for run (its default "
        "--pool-size tuned)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    arguments.add_selection_args(parser)
    parser.add_argument("--ladder", type=arguments.ladder_arg,
                        help="pool sizes to try besides the rule's (4,8,16)")
    arguments.add_measurement_args(parser)
    parser.add_argument("--rounds", type=arguments.positive_int,
                        help="exactly this many rounds (every pool once per round)")


def run(args) -> int:
    """A pool-size sweep per cell; the smallest pool as good as the best is recorded for run."""
    from runner.experiments import tune

    if args.pool_size is not None:
        raise DbbenchError("tune chooses the pool size: drop --pool-size")
    options = run_options(args, **arguments.selection(args),
                          rounds=args.rounds, slice_s=args.slice or tune.TUNE_SLICE_S, spend_budget=not args.rounds)
    options = dataclasses.replace(options, preset=None,
                                  budget_s=args.budget or tune.budget_for(len(options.selected_cells())))
    kept, chosen = tune.tune(options, args.ladder or tune.LADDER, err.print)
    print(tune.render(chosen))
    err.print(f"results: {', '.join(map(str, kept))}; recorded in {tune.store()} for dbbench run --pool-size tuned")
    return 0
