"""dbbench soak: cells held at high concurrency, sampled for memory and connection leaks."""

from __future__ import annotations

import argparse

from runner.base import scenarios
from runner.base.console import err
from runner.commands import arguments
from runner.commands.arguments import check_server_cpus

HELP = "hold cells at high concurrency; flag memory or connection leaks"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    arguments.add_selection_args(parser)
    parser.add_argument("--duration", type=arguments.duration_arg, default=600.0,
                        help="how long each cell is held, e.g. 10m (default 10m)")
    parser.add_argument("--connections", type=arguments.positive_int, default=512, help="wrk connections (default 512)")
    parser.add_argument("--sample", type=arguments.duration_arg, default=5.0,
                        help="time between samples, e.g. 5s (default 5s)")
    arguments.add_workers(parser)
    arguments.add_out(parser)
    arguments.add_db_url(parser)
    arguments.add_lock_args(parser)


def run(args) -> int:
    from pathlib import Path

    from runner.experiments import soak

    check_server_cpus(args.workers)
    path, document = soak.soak(soak.SoakOptions(
        cells=arguments.selected_cells(args), duration_s=args.duration, connections=args.connections,
        sample_s=scenarios.whole_or_fraction(args.sample), server_cpus=args.workers, db_url=args.db_url,
        out=Path(args.out) if args.out else None,
    ))
    print(soak.render(document))
    err.print(f"results: {path}")
    flagged = [c["name"] for c in document["cells"] if c.get("flags") or c["status"] == "failed"]
    return 1 if flagged else 0
