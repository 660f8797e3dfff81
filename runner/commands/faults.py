"""dbbench faults: every cell's database connections dropped, then PostgreSQL cut off; the recovery timed."""

from __future__ import annotations

import argparse

from runner.base.console import err
from runner.commands import arguments

HELP = "drop every cell's database connections, then cut PostgreSQL off; time the recovery"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    arguments.add_selection_args(parser)
    parser.add_argument("--outage", type=arguments.duration_arg, default=3.0,
                        help="how long PostgreSQL is cut off, e.g. 3s (default 3s)")
    parser.add_argument("--timeout", type=arguments.duration_arg, default=30.0,
                        help="how long a cell may take to serve again (30 s)")
    parser.add_argument("--pool-size", type=arguments.positive_int, default=8, help="per worker (default 8)")
    arguments.add_out(parser)
    arguments.add_db_url(parser)
    arguments.add_lock_args(parser)


def run(args) -> int:
    from pathlib import Path

    from runner.experiments import faults

    path, document = faults.run_faults(faults.FaultOptions(
        cells=arguments.selected_cells(args), outage_s=args.outage,
        recovery_timeout_s=args.timeout, pool_size=args.pool_size, db_url=args.db_url,
        out=Path(args.out) if args.out else None,
    ))
    print(faults.render(document))
    err.print(f"results: {path}")
    return 1 if any(cell["status"] == "failed" for cell in document["cells"]) else 0
