"""dbbench prices: a preset's prices across its runs, one column per scenario and path."""

from __future__ import annotations

import argparse
import sys

HELP = "a preset's prices across its runs (scenarios, networks, poolers), and the decision in words"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("results", nargs="+",
                        help="results.json files or their directories, or a directory holding several runs "
                             "(the --out of make bench-stacks)")


def run(args) -> int:
    from runner.report import prices

    sys.stdout.write(prices.render(prices.runs_under(args.results)))
    return 0
