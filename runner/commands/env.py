"""dbbench env: the Python environments of the cells' stacks, built before they are needed."""

from __future__ import annotations

import argparse

from runner.base.console import err
from runner.cells import environments
from runner.cells.catalog import manifest

HELP = "the Python environments of the cells' stacks"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="env_command", required=True, parser_class=type(parser))
    build = actions.add_parser("build", help="build every stack's environment that is missing or stale; two "
                                             "commands that need one build it once (a lock file beside it)")
    build.add_argument("stacks", nargs="*", metavar="STACK", help="only these (default: every stack)")
    build.set_defaults(func=cmd_build)


def cmd_build(args) -> int:
    """Every stack's environment (or the ones named), built now rather than at first use: `make
    test` builds them before the tests, instead of one by one inside them."""
    for stack in args.stacks or list(manifest().stacks):
        environments.ensure(stack)
        err.print(f"environment '{stack}': ready")
    return 0
