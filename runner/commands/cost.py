"""dbbench cost: what a request costs each cell's server, in instructions (callgrind); cost.md beside the run."""

from __future__ import annotations

import argparse

from runner.base.console import err
from runner.base.errors import DbbenchError
from runner.commands import arguments

HELP = "what a request costs each cell's server in instructions, counted by callgrind (host noise cannot move it)"


def requests_arg(value: str) -> tuple[int, int]:
    """--requests FEW,MANY: two batch sizes, the second larger."""
    few, _, many = value.partition(",")
    try:
        counts = int(few), int(many)
    except ValueError:
        raise argparse.ArgumentTypeError(f"give two numbers, FEW,MANY (such as 100,600), not {value!r}") from None
    if not 1 <= counts[0] < counts[1]:
        raise argparse.ArgumentTypeError(f"FEW must be at least 1 and below MANY, not {value!r}")
    return counts


def add_arguments(parser: argparse.ArgumentParser) -> None:
    arguments.add_selection_args(parser)
    parser.add_argument("--scenario", type=arguments.scenarios_arg, default=["by-id"],
                        help="the requests sent (one scenario; default by-id)")
    parser.add_argument("--requests", type=requests_arg, default=(100, 600), metavar="FEW,MANY",
                        help="the two batches whose difference is counted (default 100,600: 500 requests)")
    parser.add_argument("--repeats", type=arguments.positive_int, default=3,
                        help="counted differences per cell, the batches' order alternating (default 3)")
    parser.add_argument("--warmup", type=arguments.positive_int, default=300,
                        help="requests before the first count (default 300)")
    parser.add_argument("--pool-size", type=arguments.positive_int, default=4,
                        help="the cell's pool: one request at a time needs one connection (default 4)")
    parser.add_argument("--connections", type=arguments.positive_int, default=1,
                        help="requests in flight at once while counted (default 1, one after the other; a run's "
                             "load keeps 64, and one at a time a Python server's garbage collector may never run); "
                             "give the pool as many")
    parser.add_argument("--start-timeout", type=arguments.duration_arg, default=300.0,
                        help="how long a server may take to answer under callgrind, e.g. 90s (default 300s: "
                             "Django's took about 60 s here); one that takes longer is reported, the others go on")
    parser.add_argument("--queries", type=arguments.queries_arg, default=20,
                        help="lookups per request in the queries scenario (default 20)")
    parser.add_argument("--minimal", action="store_true",
                        help="count each cell's minimal app (apps/minimal/) right after it, the same way: what the "
                             "cell's glue costs in instructions (by-id only)")
    parser.add_argument("--publish", action="store_true",
                        help="also write the run to docs/cost/ (cost.json and README.md), whose figures every run's "
                             "report states beside its own: the default cells at the defaults, or with --preset NAME "
                             "its cells to docs/cost/NAME/; committed code")
    arguments.add_out(parser)
    arguments.add_db_url(parser)
    arguments.add_lock_args(parser)


def run(args) -> int:
    from pathlib import Path

    from runner.base import scenarios
    from runner.experiments import cost
    from runner.measure import callgrind

    callgrind.binary()  # before anything starts: the one line naming the package
    callgrind.binary("callgrind_control")
    if len(args.scenario) > 1:
        raise DbbenchError("dbbench cost counts one scenario at a time")
    if args.minimal and args.scenario != ["by-id"]:
        raise DbbenchError("--minimal counts the minimal apps, which serve by-id alone: without --scenario")
    cells = arguments.selected_cells(args)
    if not cells:
        raise DbbenchError("no cell selected")
    options = cost.CostOptions(
        cells=cells, scenario=scenarios.load_scenario(args.scenario[0]), counts=args.requests,
        repeats=args.repeats, warmup=args.warmup, pool_size=args.pool_size, db_url=args.db_url,
        out=Path(args.out) if args.out else None, queries_n=args.queries, start_timeout_s=args.start_timeout,
        minimal=args.minimal, connections=args.connections)
    if args.minimal:
        from runner.cells.minimal import minimal_app_of

        for cell in cells:
            minimal_app_of(cell)  # a cell without one is refused before anything starts
    if args.publish:
        check_publishable(args, parser_defaults(add_arguments))
    path, document = cost.run_cost(options)
    print(path.with_name("cost.md").read_text())
    err.print(f"results: {path} (cost.md beside it)")
    if args.publish:
        from runner.report import cost as cost_page

        refused = cost_page.unpublishable(document)
        if refused:
            raise DbbenchError(f"not published: {refused}; the run is kept in {path}")
        cost_page.publish(document, args.preset)
        err.print(f"published: {cost_page.published_dir(args.preset)}/cost.json and README.md")
    return 1 if any(cell["status"] == "failed" for cell in document["cells"]) else 0


def parser_defaults(add) -> dict:
    parser = argparse.ArgumentParser()
    add(parser)
    return vars(parser.parse_args([]))


MAY_DIFFER = {"publish", "out", "out_default", "db_url", "wait", "command", "func", "preset"}


def check_publishable(args, defaults: dict) -> None:
    """What docs/cost/ holds is the default cells (or docs/cost/PRESET/ a preset's) at the defaults,
    from committed code."""
    from runner.measure import metadata

    changed = sorted(f"--{key.replace('_', '-')}" for key, value in vars(args).items()
                     if key in defaults and key not in MAY_DIFFER and value != defaults[key])
    if changed:
        raise DbbenchError("--publish records the default cells or a preset's at the defaults, which every report "
                           f"states: without {', '.join(changed)}")
    if metadata.collect_project()["git_dirty"]:
        raise DbbenchError("--publish counts committed code: commit or stash the changes first")
