"""dbbench lesson: a lesson page rendered from its committed run, or measured again."""

from __future__ import annotations

import argparse

from runner.base.console import err
from runner.commands import arguments

HELP = "render a lesson in docs/lessons from its committed run"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name")
    parser.add_argument("--measure", action="store_true", help="run the lesson's experiment first")
    arguments.add_lock_args(parser, takes_lock=lambda args: args.measure)


def run(args) -> int:
    """Render a lesson from its committed results, or (--measure) run its experiment first."""
    from runner.lessons import engine, registry

    chosen = registry.lesson(args.name)
    if args.measure:
        err.print(f"lesson {chosen.name}: measuring ({chosen.question})")
        engine.measure(chosen)
    print(engine.render(chosen))
    return 0
