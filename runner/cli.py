"""The dbbench command line: the subcommands of runner/commands, one error path."""

from __future__ import annotations

import sys

from runner.base import supervise
from runner.base.console import err
from runner.base.errors import DbbenchError
from runner.commands.parser import build_parser
from runner.db import database


def takes_lock(args) -> bool:
    """Whether the command measures, and so holds its cluster's lock while it runs."""
    found = getattr(args, "takes_lock", False)
    return bool(found(args) if callable(found) else found)


def printable(word: str) -> str:
    """A command-line word safe to show: a database URL's password masked."""
    flag, equals, value = word.partition("=") if word.startswith("--") else ("", "", word)
    return flag + equals + (database.mask_url(value) if "://" in value else value)


def main(argv: list[str] | None = None) -> int:
    from contextlib import nullcontext
    from pathlib import Path

    from runner.db import clusterlock
    from runner.report import results

    args = build_parser().parse_args(argv)
    command = " ".join(["dbbench", *map(printable, sys.argv[1:] if argv is None else argv)])
    try:
        with supervise.stop_on_signals():
            out = getattr(args, "out", None) or getattr(args, "out_default", None)
            if out:
                results.check_writable(Path(out))
            lock = clusterlock.held(getattr(args, "db_url", None), command, args.wait, err.print) \
                if takes_lock(args) else nullcontext()
            with lock:
                return args.func(args)
    except DbbenchError as exc:
        err.print(f"dbbench: error: {exc}")
        return 2
    except KeyboardInterrupt as exc:
        err.print(f"dbbench: interrupted ({exc or 'SIGINT'})")
        return supervise.exit_code_of(exc)
