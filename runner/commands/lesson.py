"""dbbench lesson: a lesson page rendered from its committed run, or measured again."""

from __future__ import annotations

import argparse

from runner.base.console import err
from runner.base.errors import DbbenchError
from runner.commands import arguments

HELP = "render a lesson in docs/lessons from its committed run"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", nargs="?", help="the lesson, by its folder's name in docs/lessons/; none with --index")
    parser.add_argument("--measure", action="store_true", help="run the lesson's experiment first")
    parser.add_argument("--index", action="store_true",
                        help="render docs/lessons/README.md, the course's index, from every committed run")
    parser.add_argument("--check", action="store_true",
                        help="judge every claim of the committed run, render nothing, and exit 1 if any fails")
    arguments.add_lock_args(parser, takes_lock=lambda args: args.measure)


def run(args) -> int:
    """Render a lesson from its committed results, or (--measure) run its experiment first."""
    from runner.lessons import engine, registry

    if args.index:
        if args.name or args.measure or args.check:
            raise DbbenchError("--index renders the index alone: give it no lesson, --measure or --check")
        from runner.lessons import index

        print(index.render_index())
        return 0
    if not args.name:
        raise DbbenchError(f"which lesson? one of: {', '.join(registry.LESSONS)} (or --index)")
    chosen = registry.lesson(args.name)
    if args.check and args.measure:
        raise DbbenchError("--check judges the committed run: measure first, then check")
    if args.check:
        judged = engine.check(chosen)
        for claim, verdict in judged:
            said = "shown" if verdict.holds else "NOT SHOWN"
            print(f"{said}: {claim.name}: {claim.about} ({verdict.why})", flush=True)
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
