"""Bringing the hosts up and down with the shipped playbooks (up.yml, down.yml).

up: the checkout copied to every host (a tarball of its tracked files; a host
with `dbbench_deploy: false` already has it, on a shared file system), its bootstrap (`make
setup`, what `make bench-db` installs), PostgreSQL on the db host listening on its address
for the app host alone, with a password that goes from the db host to the app host and
never through this machine's output, and an agent on the db and load hosts with a token
made here for the run (kept in a file only its owner reads). down: the agents and what they
started, then PostgreSQL, and the secrets removed.
"""

from __future__ import annotations

import hashlib
import io
import shutil
import subprocess
import tarfile
from pathlib import Path

from runner.base import paths
from runner.base.errors import DbbenchError
from runner.cluster import ansible
from runner.cluster.inventory import Inventory

AGENT_PORTS = {"db": 7841, "load": 7842}
LEASE_S = 30.0  # an agent with no request for this long stops, and what it started with it
TOKEN_FILE = "cluster-token"  # noqa: S105 - a file name, under the state home, mode 0600


def checkout_tarball() -> Path:
    """The checkout's tracked files (as they are in the working tree) as a tarball named by its content."""
    git = shutil.which("git")
    listed = subprocess.run([git or "git", "ls-files", "-z", "-c"], cwd=paths.REPO,
                            capture_output=True, timeout=60) if git else None
    if listed is None or listed.returncode != 0:
        raise DbbenchError("dbbench cluster copies the checkout with git: this is not a git checkout")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name in sorted(filter(None, listed.stdout.decode().split("\0"))):
            if (paths.REPO / name).is_file():
                archive.add(paths.REPO / name, arcname=name)
    data = buffer.getvalue()
    target = paths.state_home() / "ansible" / f"checkout-{hashlib.sha256(data).hexdigest()[:12]}.tar.gz"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return target


def describe(inventory: Inventory) -> list[dict]:
    """What each host is, from its own facts (Ansible's setup module), and its clock's offset
    from ours: for `cluster check`, and for a run's metadata.hosts."""
    from runner.cluster import clock

    found = ansible.run("check", inventory)
    described = []
    for host in inventory.hosts:
        fact = (found["facts"].get(host.name) or {}).get("ansible_facts", {})
        checkout = found["checkout"].get(host.name, {})
        offset = clock.offset_of(host)
        described.append({
            "name": host.name, "roles": list(host.roles), "address": host.address,
            "cpu_model": cpu_model(fact), "cores": fact.get("ansible_processor_vcpus", "?"),
            "kernel": str(fact.get("ansible_kernel", "?")),
            "os": f"{fact.get('ansible_distribution', '?')} {fact.get('ansible_distribution_version', '')}".strip(),
            "python": str(fact.get("ansible_python_version", "?")),
            "checkout": checkout.get("stdout") if checkout.get("rc") == 0 else None,
            "clock_offset_ms": round(offset.seconds * 1000, 3),
            "clock_uncertainty_ms": round(offset.uncertainty_s * 1000, 3),
        })
    return described


def cpu_model(fact: dict) -> str:
    """The model name among Ansible's ansible_processor entries (index, vendor, model, ...)."""
    names = [entry for entry in fact.get("ansible_processor", []) if isinstance(entry, str) and " " in entry]
    return names[0] if names else "?"


def token() -> str:
    """The agents' token for this controller, made once and kept in a file its owner alone reads."""
    return paths.secret(paths.state_home() / TOKEN_FILE, 32)


def up(inventory: Inventory, users: int) -> dict:
    """Every host ready for a run; returns where the database and the agents are."""
    deploys = any(host.vars.get("dbbench_deploy", True) not in (False, "false", "no") for host in inventory.hosts)
    app = inventory.role("app").address
    variables = {"users": users, "app_address": app, "agent_ports": AGENT_PORTS, "lease": LEASE_S,
                 **({"tarball": str(checkout_tarball())} if deploys else {})}
    found = ansible.run("up", inventory, variables, secrets={"token": token()})
    db = inventory.role("db")
    url = (found["db up"][db.name].get("stdout") or "").strip().splitlines()
    return {"database_url": url[-1] if url else None,
            "agents": {role: f"http://{inventory.role(role).address}:{AGENT_PORTS[role]}" for role in AGENT_PORTS}}


def down(inventory: Inventory) -> None:
    ansible.run("down", inventory, {})
