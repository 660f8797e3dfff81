"""dbbench lesson: a lesson page rendered from its committed run, or measured again."""

from __future__ import annotations

import argparse

from runner.base.console import err
from runner.base.errors import DbbenchError
from runner.commands import arguments

HELP = "render a lesson in docs/lessons from its committed run"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name")
    parser.add_argument("--measure", action="store_true", help="run the lesson's experiment first")
    parser.add_argument("--check", action="store_true",
                        help="judge every claim of the committed run, render nothing, and exit 1 if any fails")
    arguments.add_lock_args(parser, takes_lock=lambda args: args.measure)


def run(args) -> int:
    """Render a lesson from its committed results, or (--measure) run its experiment first."""
    from runner.lessons import engine, registry

    chosen = registry.lesson(args.name)
    if args.check and args.measure:
        raise DbbenchError("--check judges the committed run: measure first, then check")
    if args.check:
        judged = engine.check(chosen)
        for claim, verdict in judged:
            print(f"{'shown' if verdict.holds else 'NOT SHOWN'}: {claim.name}: {claim.about} ({verdict.why})")
        failing = [claim.name for claim, verdict in judged if not verdict.holds]
        if failing:
            err.print(f"lesson {chosen.name}: {len(failing)} of {len(judged)} claims not shown: {', '.join(failing)}")
            return 1
        err.print(f"lesson {chosen.name}: all {len(judged)} claims shown by its committed run")
        return 0
    if args.measure:
        err.print(f"lesson {chosen.name}: measuring ({chosen.question})")
        engine.measure(chosen)
    print(engine.render(chosen))
    return 0
