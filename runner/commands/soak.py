"""dbbench soak: cells held at high concurrency, sampled for memory and connection leaks."""

from __future__ import annotations

import argparse

from runner.base.console import err
from runner.commands import arguments
from runner.commands.arguments import check_server_cpus

HELP = "hold cells at high concurrency; flag memory or connection leaks"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--frameworks", type=arguments.csv_list)
    parser.add_argument("--variants", type=arguments.csv_list)
    parser.add_argument("--all", action="store_true", help="every cell that can run here")
    parser.add_argument("--duration", type=arguments.duration_arg, default=600.0, help="per cell, e.g. 10m (default)")
    parser.add_argument("--connections", type=arguments.positive_int, default=512)
    parser.add_argument("--sample", type=arguments.positive_int, default=5, help="seconds between samples")
    parser.add_argument("--server-cpus", type=arguments.positive_int, default=1)
    arguments.add_out(parser)
    arguments.add_db_url(parser)
    arguments.add_lock_args(parser)


def run(args) -> int:
    from pathlib import Path

    from runner.experiments import soak

    check_server_cpus(args.server_cpus)
    path, document = soak.soak(soak.SoakOptions(
        frameworks=args.frameworks, variants=args.variants, everything=args.all, duration_s=args.duration,
        connections=args.connections, sample_s=args.sample, server_cpus=args.server_cpus, db_url=args.db_url,
        out=Path(args.out) if args.out else None,
    ))
    print(soak.render(document))
    err.print(f"results: {path}")
    flagged = [c["name"] for c in document["cells"] if c.get("flags") or c["status"] == "failed"]
    return 1 if flagged else 0
