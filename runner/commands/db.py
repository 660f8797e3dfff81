"""dbbench db: the benchmark database (up, seed, down, status)."""

from __future__ import annotations

import argparse
import os

from runner.base.console import err
from runner.base.errors import DbbenchError
from runner.commands import arguments
from runner.db import database, seeding

HELP = "the benchmark database"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="db_command", required=True, parser_class=type(parser))
    up = actions.add_parser("up", help="make sure a seeded database is up; print its URL last")
    up.add_argument("--users", type=arguments.users_arg, default=seeding.DEFAULT_USERS,
                    help="users to seed where the database holds no finished seed (default: %(default)s)")
    up.add_argument("--port", type=arguments.port_arg, help="port for the embedded cluster (default: a free one)")
    up.add_argument("--listen", metavar="ADDR",
                    help="also listen on this address (the db host's), for --allow alone, with a password")
    up.add_argument("--allow", type=arguments.csv_list, metavar="CIDR,...",
                    help="the addresses or networks (the app hosts) that may connect on --listen")
    arguments.add_db_url(up)
    up.set_defaults(func=cmd_up)
    seed = actions.add_parser("seed", help="(re)create the schema and seed; print the posts' count and checksum, "
                                           "then `checksum <hex>` (the users') last")
    seed.add_argument("--users", type=arguments.users_arg, default=seeding.DEFAULT_USERS,
                      help="users to seed, with their posts (default: %(default)s)")
    arguments.add_db_url(seed)
    arguments.add_lock_args(seed)
    seed.set_defaults(func=cmd_seed)
    down = actions.add_parser("down", help="stop the embedded cluster")
    down.set_defaults(func=cmd_down)
    status = actions.add_parser("status", help="the embedded cluster's state")
    status.set_defaults(func=cmd_status)


def cmd_up(args) -> int:
    exposure = database.Exposure.parse(args.listen, args.allow or []) if args.listen else None
    if args.allow and not args.listen:
        raise DbbenchError("--allow goes with --listen ADDR: the address the allowed hosts reach")
    if args.port is not None or exposure is not None:
        if args.db_url or os.environ.get("DATABASE_URL"):
            raise DbbenchError("--port and --listen are for the embedded cluster; they cannot go with --db-url or "
                               "DATABASE_URL")
        cluster = database.EmbeddedCluster.default()
        url, embedded = cluster.up(args.port, exposure), True
    else:
        url, embedded = database.database_url(args.db_url)
    info = seeding.ensure_seeded(url, args.users, log=err.print)
    where = "embedded cluster" if embedded else "external server"
    verb = "seeded" if info.seeded else "already seeded"
    err.print(f"{where}: {info.users:,} users and {info.posts:,} posts {verb}, checksum {info.checksum}")
    if exposure is not None:
        err.print(f"listening on {exposure.address} for {', '.join(exposure.allowed)} with scram-sha-256; "
                  f"the password is in {cluster.password_file} (readable by its owner alone)")
        print(cluster.exposed_url(exposure))
        return 0
    print(database.mask_url(url) if not embedded else url)
    return 0


def cmd_seed(args) -> int:
    url, _ = database.database_url(args.db_url)
    err.print(f"seeding {args.users:,} users and their posts into {database.mask_url(url)} ...")
    info = seeding.seed(url, args.users, force=True)
    print(f"posts {info.posts} checksum {info.posts_checksum}")
    print(f"checksum {info.checksum}")
    return 0


def cmd_down(args) -> int:
    cluster = database.EmbeddedCluster.default()
    if not cluster.is_initialized():
        print("no embedded cluster")
        return 0
    print("stopped" if cluster.stop() else "not running")
    return 0


def cmd_status(args) -> int:
    status = database.EmbeddedCluster.default().status()
    for key, value in status.items():
        print(f"{key}: {value}")
    if status["running"]:
        seed = seeding.current_seed(status["url"])
        print(f"seed: {f'{seed.users} users, checksum {seed.checksum}' if seed else 'none'}")
    return 0
