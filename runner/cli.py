"""The dbbench command line: one small function per subcommand, one error path."""

from __future__ import annotations

import argparse
import sys

from rich.console import Console

from runner import database
from runner.errors import DbbenchError

err = Console(stderr=True, highlight=False)


class OneLineParser(argparse.ArgumentParser):
    """argparse, but bad input is one line on stderr and exit 2, never a usage dump."""

    def error(self, message: str) -> None:
        self.exit(2, f"dbbench: error: {message} (see 'dbbench {self._sub_name()}--help')\n")

    def _sub_name(self) -> str:
        parts = self.prog.split()[1:]
        return " ".join(parts) + " " if parts else ""


def users_arg(value: str) -> int:
    try:
        return database.check_users(value)
    except DbbenchError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("--users ")) from None


def port_arg(value: str) -> int:
    try:
        port = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a port number, not {value!r}") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"must be between 1 and 65535, not {port}")
    return port


def add_db_url(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db-url",
        help="an external PostgreSQL 13+ (default: $DATABASE_URL, else the embedded cluster)",
    )


def cmd_db_up(args) -> int:
    url, embedded = database.database_url(args.db_url) if args.port is None else (
        database.EmbeddedCluster.default().up(args.port), True
    )
    info = database.seed(url, args.users)
    where = "embedded cluster" if embedded else "external server"
    verb = "seeded" if info.seeded else "already seeded"
    err.print(f"{where}: {info.users:,} users {verb}, checksum {info.checksum}")
    print(database.mask_url(url) if not embedded else url)
    return 0


def cmd_db_seed(args) -> int:
    url, _ = database.database_url(args.db_url)
    err.print(f"seeding {args.users:,} users into {database.mask_url(url)} ...")
    info = database.seed(url, args.users, force=True)
    print(f"checksum {info.checksum}")
    return 0


def cmd_db_down(args) -> int:
    cluster = database.EmbeddedCluster.default()
    if not cluster.is_initialized():
        print("no embedded cluster")
        return 0
    print("stopped" if cluster.stop() else "not running")
    return 0


def cmd_db_status(args) -> int:
    status = database.EmbeddedCluster.default().status()
    for key, value in status.items():
        print(f"{key}: {value}")
    if status["running"]:
        seed = database.current_seed(status["url"])
        print(f"seed: {f'{seed.users} users, checksum {seed.checksum}' if seed else 'none'}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="dbbench", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)

    db = commands.add_parser("db", help="the benchmark database")
    db_commands = db.add_subparsers(dest="db_command", required=True, parser_class=OneLineParser)
    up = db_commands.add_parser("up", help="make sure a seeded database is up; print its URL last")
    up.add_argument("--users", type=users_arg, default=database.DEFAULT_USERS)
    up.add_argument("--port", type=port_arg, help="port for the embedded cluster (default: a free one)")
    add_db_url(up)
    up.set_defaults(func=cmd_db_up)
    seed = db_commands.add_parser("seed", help="(re)create the schema and seed; print the checksum")
    seed.add_argument("--users", type=users_arg, default=database.DEFAULT_USERS)
    add_db_url(seed)
    seed.set_defaults(func=cmd_db_seed)
    down = db_commands.add_parser("down", help="stop the embedded cluster")
    down.set_defaults(func=cmd_db_down)
    status = db_commands.add_parser("status", help="the embedded cluster's state")
    status.set_defaults(func=cmd_db_status)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except DbbenchError as exc:
        err.print(f"dbbench: error: {exc}", markup=False, soft_wrap=True)
        return 2
    except KeyboardInterrupt:
        err.print("dbbench: interrupted", markup=False)
        return 130
