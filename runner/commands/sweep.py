"""dbbench sweep: the cells at each value of one parameter, paired where it can be."""

from __future__ import annotations

import argparse

from runner.base.console import err
from runner.base.errors import DbbenchError
from runner.commands import arguments
from runner.commands.arguments import check_server_cpus, run_options

HELP = ("measure the cells at each value of one parameter, paired: one run whose instances are the points, each "
        "point a blocked ratio to its cell's best; results/sweep/<time>/sweep.json, report.html, figures")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--param", required=True,
                        help="NAME=V1,V2,...: connections, pool-size, workers, db-latency or rate "
                             "(requests per second at a constant rate, oha)")
    arguments.add_selection_args(parser)
    arguments.add_measurement_args(parser)
    parser.add_argument("--rounds", type=arguments.positive_int,
                        help="exactly this many rounds (each point measured once per round)")
    parser.add_argument("--precision", type=arguments.precision_arg,
                        help="target half-width of every ratio (default 3%%)")
    arguments.add_quick(parser)


OPTION_OF = {"server-cpus": "workers"}  # a parameter's name on the command line, where it differs from the results'


def renamed_param(text: str) -> str:
    """--param workers=1,2 is the server-cpus parameter of the results; the old spelling still works, with a note."""
    name, equals, values = text.partition("=")
    if name.strip() == "server-cpus":
        err.print("dbbench: note: --param server-cpus is now --param workers; the old spelling goes in a later release")
    return f"server-cpus{equals}{values}" if name.strip() == "workers" else text


def run(args) -> int:
    """The cells at each value of one parameter, paired where it can be; one sweep.json, its report
    and figures."""
    from runner.experiments import sweep

    param, values = sweep.parse_param(renamed_param(args.param))
    given = {"connections": args.connections, "pool-size": args.pool_size, "db-latency": args.db_latency or None,
             "server-cpus": args.workers if args.workers != 1 else None, "rate": None}
    if given[param] is not None:
        raise DbbenchError(f"--param {OPTION_OF.get(param, param)}=... sets --{OPTION_OF.get(param, param)}: give "
                           "it in one place")
    if param == "server-cpus":
        check_server_cpus(max(values))
    options = run_options(args, **arguments.selection(args), rounds=args.rounds, precision=args.precision,
                          quick=args.quick)
    path, document = sweep.sweep(options, param, values, out=None)
    print(sweep.render(document))
    err.print(f"results: {path} (and report.html and figures/ beside it)")
    return 0
