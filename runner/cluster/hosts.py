"""Bringing the hosts up and down with the shipped playbooks (up.yml, down.yml).

up: the checkout copied to every host (a tarball of its tracked and unignored files; a host
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

from runner import paths
from runner.cluster import ansible
from runner.cluster.inventory import Inventory
from runner.errors import DbbenchError

AGENT_PORTS = {"db": 7841, "load": 7842}
LEASE_S = 30.0  # an agent with no request for this long stops, and what it started with it
TOKEN_FILE = "cluster-token"  # noqa: S105 - a file name, under the state home, mode 0600


def checkout_tarball() -> Path:
    """The checkout's tracked and unignored files as a tarball named by its content."""
    git = shutil.which("git")
    listed = subprocess.run([git or "git", "ls-files", "-z", "-co", "--exclude-standard"], cwd=paths.REPO,
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
