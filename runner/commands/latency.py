"""dbbench latency: latency against offered load, and the highest rate that meets an objective."""

from __future__ import annotations

import argparse

from runner.base.console import err
from runner.commands import arguments
from runner.commands.arguments import run_options

HELP = ("latency against offered load (constant-rate steps up to each cell's closed-loop peak); with --slo, the "
        "highest rate that meets a latency objective")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    arguments.add_selection_args(parser)
    parser.add_argument("--steps", default="25,50,75,90,100",
                        help="offered rates, in %% of each cell's closed-loop throughput (25,50,75,90,100)")
    parser.add_argument("--slo", help="an objective such as p99=50ms: find each cell's highest rate meeting it")
    parser.add_argument("--probes", type=arguments.positive_int, default=4,
                        help="bisection runs after the steps, for --slo (4)")
    arguments.add_measurement_args(parser)
    parser.add_argument("--rounds", type=arguments.positive_int,
                        help="rounds per run (default: the closed-loop run to 3%%, each rate run 3)")
    arguments.add_quick(parser)


def run(args) -> int:
    """Closed-loop peak, constant-rate steps up to it, and the highest rate meeting --slo."""
    from runner.experiments import latency

    objective = latency.Objective.parse(args.slo) if args.slo else None
    options = run_options(args, **arguments.selection(args), rounds=args.rounds, quick=args.quick)
    path, document = latency.measure(options, latency.parse_steps(args.steps), objective, args.probes)
    print(latency.render(document))
    err.print(f"results: {path} (and latency.md, report.html and figures/ beside it)")
    return 0
