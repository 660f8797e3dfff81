"""An Ansible inventory with the groups db, app and load, read with ansible-core's own parser.

Each role has one host; one host may hold several roles. A host's address is its
`ansible_host` (else its name): where its services listen and where the others reach it.
How to reach it over SSH is whatever the inventory says (user, port, key, SSH options), so
that dbbench and Ansible connect the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from runner.base.errors import DbbenchError

ROLES = ("db", "app", "load")


@dataclass(frozen=True)
class Host:
    name: str
    address: str
    roles: tuple[str, ...]
    ssh: dict = field(default_factory=dict)  # user, port, key, options: how Ansible reaches it
    vars: dict = field(default_factory=dict)  # its dbbench_* variables (dbbench_dir, dbbench_home, dbbench_deploy)

    def ssh_argv(self) -> list[str]:
        """`ssh ... user@address`: the same user, port, key and options as Ansible, batch mode."""
        import shlex

        argv = ["ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10"]
        if self.ssh.get("port"):
            argv += ["-p", str(self.ssh["port"])]
        if self.ssh.get("key"):
            argv += ["-i", str(self.ssh["key"])]
        argv += shlex.split(self.ssh.get("options") or "")
        user = self.ssh.get("user")
        return [*argv, f"{user}@{self.address}" if user else self.address]


@dataclass(frozen=True)
class Inventory:
    path: Path
    hosts: tuple[Host, ...]

    def role(self, role: str) -> Host:
        return next(host for host in self.hosts if role in host.roles)

    def require_checkout_dirs(self) -> None:
        """up and down need to know where the checkout lives on each host."""
        missing = [host.name for host in self.hosts if not str(host.vars.get("dbbench_dir", "")).startswith("/")]
        if missing:
            raise DbbenchError(f"inventory {self.path}: set dbbench_dir (an absolute path: where the checkout lives) "
                               f"for {', '.join(missing)}")

    def layout(self) -> str:
        """`db on db1 (198.18.0.11), app on app1 (...), load on load1 (...)`."""
        return ", ".join(f"{role} on {self.role(role).name} ({self.role(role).address})" for role in ROLES)


def load(path: str | Path) -> Inventory:
    """The inventory's db, app and load hosts, or a one-line error saying what is missing."""
    path = Path(path)
    if not path.is_file():
        raise DbbenchError(f"inventory {path} does not exist (see the README's three-host walkthrough)")
    from ansible.errors import AnsibleError
    from ansible.inventory.manager import InventoryManager
    from ansible.parsing.dataloader import DataLoader
    from ansible.vars.manager import VariableManager

    loader = DataLoader()
    try:
        manager = InventoryManager(loader=loader, sources=[str(path)], parse=True)
        groups = manager.get_groups_dict()
    except AnsibleError as error:
        raise DbbenchError(f"inventory {path}: {str(error).splitlines()[0]}") from None
    variables = VariableManager(loader=loader, inventory=manager)
    roles: dict[str, list[str]] = {}
    for role in ROLES:
        members = groups.get(role, [])
        if len(members) != 1:
            found = f"has {', '.join(members)}" if members else "is missing or empty"
            raise DbbenchError(f"inventory {path}: group {role!r} {found}: it needs exactly one host")
        roles.setdefault(members[0], []).append(role)
    hosts = []
    for name, held in roles.items():
        found = variables.get_vars(host=manager.get_host(name))
        hosts.append(Host(
            name=name, address=str(found.get("ansible_host") or name), roles=tuple(held),
            ssh={"user": found.get("ansible_user"), "port": found.get("ansible_port"),
                 "key": found.get("ansible_ssh_private_key_file") or found.get("ansible_private_key_file"),
                 "options": " ".join(filter(None, (found.get("ansible_ssh_common_args"),
                                                   found.get("ansible_ssh_extra_args"))))},
            vars={key: value for key, value in found.items() if key.startswith("dbbench_")}))
    return Inventory(path=path.resolve(), hosts=tuple(hosts))
