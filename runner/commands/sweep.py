"""dbbench sweep: the cells at each value of one parameter, paired where it can be."""

from __future__ import annotations

import argparse

from runner.base.console import err
from runner.base.errors import DbbenchError
from runner.commands import arguments
from runner.commands.arguments import check_server_cpus, run_options

HELP = "measure the cells at each value of one parameter"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--param", required=True,
                        help="NAME=V1,V2,...: connections, pool-size, server-cpus, db-latency or rate "
                             "(requests per second at a constant rate, oha)")
    parser.add_argument("--frameworks", type=arguments.csv_list)
    parser.add_argument("--variants", type=arguments.csv_list)
    parser.add_argument("--all", action="store_true", help="every cell that can run here")
    arguments.add_measurement_args(parser)
    parser.add_argument("--rounds", type=arguments.positive_int,
                        help="exactly this many rounds (each point measured once per round)")
    parser.add_argument("--precision", type=arguments.precision_arg,
                        help="target half-width of every ratio (default 3%%)")
    parser.add_argument("--quick", action="store_true",
                        help="1 s slices, a 60 s budget (per point in a sequential sweep)")


def run(args) -> int:
    """The cells at each value of one parameter, paired where it can be; one sweep.json, its report
    and figures."""
    from runner.experiments import sweep

    param, values = sweep.parse_param(args.param)
    if len(args.scenario) > 1:
        raise DbbenchError("a sweep measures one scenario at a time")
    given = {"connections": args.connections, "pool-size": args.pool_size, "db-latency": args.db_latency or None,
             "server-cpus": args.server_cpus if args.server_cpus != 1 else None, "rate": None}
    if given[param] is not None:
        raise DbbenchError(f"--param {param}=... sets --{param}: give it in one place")
    if param == "server-cpus":
        check_server_cpus(max(values))
    options = run_options(args, frameworks=args.frameworks, variants=args.variants, everything=args.all,
                          rounds=args.rounds, precision=args.precision, quick=args.quick)
    path, document = sweep.sweep(options, param, values, out=None)
    print(sweep.render(document))
    err.print(f"results: {path} (and report.html and figures/ beside it)")
    return 0
