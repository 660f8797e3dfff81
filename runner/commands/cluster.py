"""dbbench cluster: database, cells and load on hosts of their own, via Ansible (check, up, run,
down). Nothing here imports Ansible until a cluster command runs."""

from __future__ import annotations

import argparse
import signal

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from runner.base.errors import DbbenchError
from runner.commands import arguments

out = Console(width=200, highlight=False)


def cmd_check(args) -> int:
    """Reachability, versions, each host's CPU model and core count, and its clock offset."""
    from runner.cluster import inventory, provisioning

    found = inventory.load(args.inventory)
    table = Table("host", "roles", "address", "CPU", "cores", "kernel", "OS", "python", "dbbench checkout",
                  "clock offset", box=None)
    for host in provisioning.describe(found):
        table.add_row(host["name"], ",".join(host["roles"]), host["address"], escape(host["cpu_model"]),
                      str(host["cores"]), host["kernel"], host["os"], host["python"],
                      host["checkout"] or "not deployed",
                      f"{host['clock_offset_ms']:+.1f} ms (±{host['clock_uncertainty_ms']:.1f})")
    out.print(table)
    out.print(escape(f"layout: {found.layout()}"))
    return 0


def cmd_up(args) -> int:
    """The checkout and its bootstrap on every host, PostgreSQL on the db host, the agents."""
    from runner.cluster import inventory, provisioning

    found = inventory.load(args.inventory)
    found.require_checkout_dirs()
    where = provisioning.up(found, args.users)
    out.print(escape(f"up: {found.layout()}; PostgreSQL at {where['database_url']} (its password is on the db and "
                     f"app hosts alone); agents at {', '.join(where['agents'].values())}"))
    return 0


def cmd_down(args) -> int:
    """Every agent and what it started, then PostgreSQL; the run's secrets removed."""
    from runner.cluster import inventory, provisioning

    found = inventory.load(args.inventory)
    found.require_checkout_dirs()
    provisioning.down(found)
    out.print(escape(f"down: nothing of dbbench runs on {', '.join(host.name for host in found.hosts)}"))
    return 0


def cmd_run(args) -> int:
    """Up, the run on the app host, down; the results here, as `dbbench run` writes them."""
    from pathlib import Path

    from runner.base import paths
    from runner.cluster import controller, inventory
    from runner.report import results, tables

    found = inventory.load(args.inventory)
    found.require_checkout_dirs()
    options = arguments.run_options(args, here=False, **arguments.selection(args), rounds=args.rounds,
                                    precision=args.precision, quick=args.quick, queries_n=args.queries)
    kept = Path(args.out) if args.out else paths.REPO / "results"
    run_dir, code = controller.run(found, options, args.users, kept)
    if run_dir is None:
        raise DbbenchError(f"the run on {found.role('app').name} ended (exit {code}) before it wrote any result")
    print(tables.render_markdown(results.load(run_dir / "results.json")))
    out.print(escape(f"results: {run_dir} (with each agent's samples in hosts/)"))
    if code in (128 + signal.SIGINT, 128 + signal.SIGTERM, 128 + signal.SIGHUP):
        out.print(f"interrupted on {found.role('app').name}: everything stopped; its finished slices are above")
        return code
    if code != 0:
        raise DbbenchError(f"the run on {found.role('app').name} ended with exit {code}: what it finished is in "
                           f"{run_dir}")
    return 0


def cmd_app_run(args) -> int:
    from runner.cluster import app_side

    return app_side.cmd_app_run(args)


HELP = "database, cells and load on hosts of their own, via Ansible"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="cluster_command", required=True, metavar="{check,up,run,down}",
                                    parser_class=type(parser))
    check = actions.add_parser("check", help="each host's reachability, versions, CPU, cores and clock offset")
    add_inventory(check)
    check.set_defaults(func=cmd_check)
    up = actions.add_parser("up", help="the checkout and bootstrap on every host, PostgreSQL on db, the agents")
    add_inventory(up)
    up.add_argument("--users", type=int, default=100_000, help="users to seed on the db host (100,000)")
    up.set_defaults(func=cmd_up)
    run = actions.add_parser("run", help="up, verify and measure with the cells on app, wrk on load and "
                                         "PostgreSQL on db; down; results/<time>/ here")
    add_inventory(run)
    add_run_args(run)
    run.set_defaults(func=cmd_run)
    app_run = actions.add_parser("app-run", help="internal: what `cluster run` starts on the app host over SSH")
    app_run.add_argument("--plan", required=True, help="the plan file the controller copied to this host")
    app_run.set_defaults(func=cmd_app_run)
    down = actions.add_parser("down", help="stop everything dbbench started on every host")
    add_inventory(down)
    down.set_defaults(func=cmd_down)


def add_inventory(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-i", "--inventory", required=True,
                        help="an Ansible inventory (YAML or INI) with the groups db, app and load")


def add_run_args(parser: argparse.ArgumentParser) -> None:
    """`dbbench run`'s options that a cluster run takes: the database, the cells and wrk are
    where the inventory puts them, so --db-url, --target, --db-latency, --proxy and --fault are not."""
    from runner.db import seeding

    arguments.add_selection_args(parser, where="on the app host")
    arguments.add_shared_measurement_args(parser)
    arguments.add_run_precision_args(parser)
    parser.add_argument("--users", type=arguments.users_arg, default=seeding.DEFAULT_USERS,
                        help="users to seed on the db host")
    parser.set_defaults(db_url=None, db_latency=0, proxy=False)
