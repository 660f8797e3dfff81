"""The `dbbench cluster` command group: check, up and down (run is still to be built).

Its own module, so that cli.py only registers it; nothing here imports Ansible until a
cluster command runs.
"""

from __future__ import annotations

import argparse

from rich.console import Console
from rich.markup import escape
from rich.table import Table

out = Console(width=200, highlight=False)


def cmd_check(args) -> int:
    """Reachability, versions, each host's CPU model and core count, and its clock offset."""
    from runner.cluster import ansible, clock, inventory

    hosts = inventory.load(args.inventory)
    found = ansible.run("check", hosts)
    facts = {name: result.get("ansible_facts", {}) for name, result in found["facts"].items()}
    table = Table("host", "roles", "address", "CPU", "cores", "kernel", "OS", "python", "dbbench checkout",
                  "clock offset", box=None)
    for host in hosts.hosts:
        fact = facts.get(host.name, {})
        offset = clock.offset_of(host)
        checkout = found["checkout"].get(host.name, {})
        table.add_row(
            host.name, ",".join(host.roles), host.address, escape(cpu_model(fact)),
            str(fact.get("ansible_processor_vcpus", "?")), str(fact.get("ansible_kernel", "?")),
            f"{fact.get('ansible_distribution', '?')} {fact.get('ansible_distribution_version', '')}".strip(),
            str(fact.get("ansible_python_version", "?")),
            checkout.get("stdout") if checkout.get("rc") == 0 else "not deployed",
            f"{offset.seconds * 1000:+.1f} ms (±{offset.uncertainty_s * 1000:.1f})")
    out.print(table)
    out.print(escape(f"layout: {hosts.layout()}"))
    return 0


def cmd_up(args) -> int:
    """The checkout and its bootstrap on every host, PostgreSQL on the db host, the agents."""
    from runner.cluster import hosts, inventory

    found = inventory.load(args.inventory)
    found.require_checkout_dirs()
    where = hosts.up(found, args.users)
    out.print(escape(f"up: {found.layout()}; PostgreSQL at {where['database_url']} (its password is on the db and "
                     f"app hosts alone); agents at {', '.join(where['agents'].values())}"))
    return 0


def cmd_down(args) -> int:
    """Every agent and what it started, then PostgreSQL; the run's secrets removed."""
    from runner.cluster import hosts, inventory

    found = inventory.load(args.inventory)
    found.require_checkout_dirs()
    hosts.down(found)
    out.print(escape(f"down: nothing of dbbench runs on {', '.join(host.name for host in found.hosts)}"))
    return 0


def cpu_model(fact: dict) -> str:
    """The model name among Ansible's ansible_processor entries (index, vendor, model, ...)."""
    names = [entry for entry in fact.get("ansible_processor", []) if isinstance(entry, str) and " " in entry]
    return names[0] if names else "?"


def add_parser(commands) -> None:
    cluster = commands.add_parser("cluster", help="database, cells and load on hosts of their own, via Ansible")
    actions = cluster.add_subparsers(dest="cluster_command", required=True, metavar="{check,up,down}",
                                     parser_class=type(cluster))
    check = actions.add_parser("check", help="each host's reachability, versions, CPU, cores and clock offset")
    add_inventory(check)
    check.set_defaults(func=cmd_check)
    up = actions.add_parser("up", help="the checkout and bootstrap on every host, PostgreSQL on db, the agents")
    add_inventory(up)
    up.add_argument("--users", type=int, default=100_000, help="users to seed on the db host (100,000)")
    up.set_defaults(func=cmd_up)
    down = actions.add_parser("down", help="stop everything dbbench started on every host")
    add_inventory(down)
    down.set_defaults(func=cmd_down)


def add_inventory(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-i", "--inventory", required=True,
                        help="an Ansible inventory (YAML or INI) with the groups db, app and load")
