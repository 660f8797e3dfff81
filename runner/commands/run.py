"""dbbench run: verify and measure the matrix, one run per scenario; results/<time>/."""

from __future__ import annotations

import argparse
import os

from runner.base.console import err
from runner.base.errors import DbbenchError
from runner.cells import presets
from runner.commands import arguments
from runner.commands.arguments import run_options

HELP = "verify and measure the matrix; write results/<time>/"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    arguments.add_selection_args(parser)
    arguments.add_measurement_args(parser)
    parser.set_defaults(pool_size="tuned")
    parser.add_argument("--tune-budget", type=arguments.duration_arg,
                        help="time for tuning the cells with no tuned pool recorded, before the run (default 40 s "
                             "per cell, at least 100 s)")
    arguments.add_run_precision_args(parser)
    parser.add_argument("--rate", type=arguments.rate_arg,
                        help="requests per second at a constant rate (oha, open loop; latency from each request's "
                             "intended send time) in place of wrk's closed loop; 3 rounds unless --rounds or --budget")
    parser.add_argument("--users", type=arguments.users_arg, help="re-seed with this many users if needed")
    parser.add_argument("--fault", choices=("reset", "outage"),
                        help="after round 2, drop every database connection (reset) or cut PostgreSQL off (outage); "
                             "record each cell's recovery and go on")
    parser.add_argument("--outage", type=arguments.duration_arg, default=3.0,
                        help="how long --fault outage cuts PostgreSQL off, e.g. 3s (default 3s)")
    arguments.add_renamed(parser, "--fault-seconds", "--outage", dest="outage", type=arguments.duration_arg)
    parser.add_argument("--profile", action="store_true",
                        help="after each group's rounds, sample each cell's server with py-spy on a load of its own "
                             "(never a ranked slice): the report shows where its CPU goes, by library")
    parser.add_argument("--target", type=arguments.target_arg,
                        help="measure the --cell already serving at this URL (dbbench serve --host 0.0.0.0 on "
                             "another host); needs --db-url")


def run(args) -> int:
    """One run per scenario, one after the other, each with its own results directory."""
    from runner.measure.run import Run, execute
    from runner.report import results, tables

    remote_target(args)
    chosen = arguments.selection(args)
    for number, scenario in enumerate(args.scenario, start=1):
        if len(args.scenario) > 1:
            err.print(f"scenario {number} of {len(args.scenario)}: {scenario}")
        tuned = args.pool_size == "tuned" and not args.target
        options = run_options(args, scenario=scenario, **chosen, rounds=args.rounds, precision=args.precision,
                              users=args.users, quick=args.quick, target=args.target, fault=args.fault,
                              fault_s=args.outage, rate=args.rate, queries_n=args.queries, profile=args.profile,
                              **({"pool_size": None} if args.pool_size == "tuned" else {}))
        if tuned:
            from runner.experiments import tune

            options = tune.with_tuned_pools(options, log=err.print, budget_s=args.tune_budget,
                                            no_tuning=why_not_tuned(args))
        runner = Run(options)
        code = execute(runner)
        if code is not None:
            return code
        print(tables.render_markdown(results.load(runner.results_path)))
        err.print(f"results: {runner.results_path} (and results.md, report.html and figures/ beside it)")
    return 0


def remote_target(args) -> None:
    """--target measures one cell already serving elsewhere (--cell), verified against the
    database it uses (--db-url): check the combination."""
    if args.target is None:
        return
    if not args.cell:
        raise DbbenchError("--target needs --cell FRAMEWORK/VARIANT: the cell serving at that URL")
    if not (args.db_url or os.environ.get("DATABASE_URL")):
        raise DbbenchError("--target needs --db-url (or DATABASE_URL): the database the remote cell uses, "
                           "which verification reads")
    if args.profile:
        raise DbbenchError("--profile samples cells started here; a --target cell runs on its own host")
    if args.db_latency or args.fault or args.proxy or args.pooler:
        raise DbbenchError("--db-latency, --fault and --pooler put a proxy or a pooler in front of cells started "
                           "here; a --target cell is not")


def why_not_tuned(args) -> str | None:
    """Why a run that uses tuned pools does not tune its untuned cells first, or None."""
    if args.quick:
        return "a --quick run does not tune"
    if args.rate:
        return "a constant-rate run does not tune"
    if args.preset and not presets.preset(args.preset).tune:
        return f"preset {args.preset} does not tune: `dbbench tune --preset {args.preset}` records its pools"
    return None
