"""dbbench compare: each cell's change between two stored runs."""

from __future__ import annotations

import argparse
import sys

HELP = "each cell's change between two stored runs"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("a", help="the earlier run: a results.json, or its directory")
    parser.add_argument("b", help="the later run, each of whose cells is compared with A's")
    parser.add_argument("--force", action="store_true", help="compare runs from different machines or data sets")


def run(args) -> int:
    from runner.report import compare, results

    sys.stdout.write(compare.compare(results.load(args.a), results.load(args.b), force=args.force))
    return 0
