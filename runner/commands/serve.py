"""dbbench serve: one cell in the foreground until Ctrl-C."""

from __future__ import annotations

import argparse

from runner.base import paths, ports
from runner.base.console import err
from runner.base.errors import DbbenchError
from runner.cells import builds, catalog, lifecycle
from runner.commands import arguments
from runner.commands.arguments import seeded_url, warn_about_cores
from runner.db import database, proxy

HELP = "run one cell in the foreground until Ctrl-C"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("framework", help="a framework of apps/cells.toml (dbbench list shows them)")
    parser.add_argument("variant", help="one of its variants (data-access strategies)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="the address to listen on (default: %(default)s; another says the service is reachable "
                             "from the network)")
    parser.add_argument("--port", type=arguments.port_arg, default=8000, help="the port (default: %(default)s)")
    arguments.add_workers(parser)
    parser.add_argument("--pool-size", type=arguments.positive_int,
                        help="per worker (default: sized from --connections)")
    parser.add_argument("--connections", type=arguments.positive_int, default=64, help="the load the pool is sized for")
    arguments.add_db_url(parser)
    arguments.add_db_latency(parser)


def run(args) -> int:
    cell = catalog.manifest().cell(args.framework, args.variant)
    ok, detail = builds.availability(cell)
    if not ok:
        raise DbbenchError(f"{cell.name} cannot run here: {detail}")
    if not ports.port_is_free(args.port):
        raise DbbenchError(f"port {args.port} on 127.0.0.1 is in use: choose another with --port")
    warn_about_cores(args.workers, "--workers")
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        err.print(f"dbbench: serving on {args.host}: the service is reachable from the network, not only this host")
    url, users = seeded_url(args.db_url)
    pool = args.pool_size or catalog.pool_size_for(args.connections, args.workers)
    process = lifecycle.CellProcess(cell, port=args.port, workers=args.workers, pool_size=pool, log_path=None,
                                host=args.host, users=users)
    log = paths.state_home() / "logs" / "serve-toxiproxy.log"
    with proxy.between(url, args.db_latency, log) as (cell_url, _), process:
        process.start(cell_url)
        try:
            process.wait_ready()
            added = f", +{args.db_latency} ms per round trip through toxiproxy" if args.db_latency else ""
            err.print(
                f"serving {cell.name} on http://{args.host}:{args.port}/users/1 ({args.workers} worker(s), "
                f"pool {pool} each, database {database.mask_url(url)}{added}); Ctrl-C stops it"
            )
            process.process.wait()
        except KeyboardInterrupt:
            err.print(f"stopping {cell.name} ...")
            raise
    raise DbbenchError(f"{cell.name} exited with code {process.process.returncode}")
