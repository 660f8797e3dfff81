"""Hosts for the cluster tests: network namespaces on a bridge, each host with its own sshd.

Three hosts (db1, app1, load1) and a controller namespace, linked by veth pairs to a bridge
in the controller's namespace, with addresses from 198.18.0.0/15, the range RFC 2544 sets
aside for benchmarking: every packet stays inside namespaces the test made. Each host runs
its own sshd on its address, with a host key and an authorized key made for the test, and
the cluster commands run in the controller's namespace through real SSH and real Ansible.
At the end every process left in a namespace (started there by the test) is killed by its
pid, then the namespaces are deleted.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

SSHD = Path("/usr/sbin/sshd")
IP, SSH, SSH_KEYGEN = (shutil.which(tool) or tool for tool in ("ip", "ssh", "ssh-keygen"))
CONTROLLER_ADDRESS = "198.18.0.1"
HOSTS = {"db1": "198.18.0.11", "app1": "198.18.0.12", "load1": "198.18.0.13"}
ROLES = {"db1": "db", "app1": "app", "load1": "load"}
READY_TIMEOUT_S = 20


def ip(*args: str, namespace: str | None = None) -> None:
    argv = [IP, *(["-n", namespace] if namespace else []), *args]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: {done.stderr.strip()}")


def why_not() -> str | None:
    """Why namespaces and sshd cannot be used here, or None."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    if not shutil.which("ip") or not shutil.which("ssh") or not SSHD.exists():
        return "needs ip, ssh and sshd (bash runner/bootstrap.sh --ssh installs OpenSSH)"
    probe = f"dbbprobe{os.getpid()}"
    done = subprocess.run([IP, "netns", "add", probe], capture_output=True, text=True, timeout=30)
    if done.returncode != 0:
        return f"cannot make a network namespace: {done.stderr.strip()}"
    subprocess.run([IP, "netns", "del", probe], capture_output=True, timeout=30)
    return None


class Hosts:
    """`with Hosts(workdir) as hosts:` the three hosts up, `hosts.inventory` ready to use."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.prefix = f"dbb{os.getpid() % 100000}"
        self.controller = f"{self.prefix}-ctl"
        self.namespaces = {name: f"{self.prefix}-{name}" for name in HOSTS}
        self.sshd: dict[str, subprocess.Popen] = {}
        self.inventory = workdir / "hosts.yml"
        self.key = workdir / "id_ed25519"

    def __enter__(self) -> Hosts:
        try:
            self.build()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def build(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        ip("netns", "add", self.controller)
        ip("link", "set", "lo", "up", namespace=self.controller)
        ip("link", "add", "br0", "type", "bridge", namespace=self.controller)
        ip("addr", "add", f"{CONTROLLER_ADDRESS}/24", "dev", "br0", namespace=self.controller)
        ip("link", "set", "br0", "up", namespace=self.controller)
        for index, (name, address) in enumerate(HOSTS.items()):
            namespace = self.namespaces[name]
            ip("netns", "add", namespace)
            ip("link", "set", "lo", "up", namespace=namespace)
            outer, inner = f"{self.prefix}b{index}", f"{self.prefix}h{index}"
            ip("link", "add", outer, "netns", self.controller, "type", "veth", "peer", "name", inner,
               "netns", namespace)
            ip("link", "set", outer, "master", "br0", "up", namespace=self.controller)
            ip("link", "set", inner, "name", "eth0", namespace=namespace)
            ip("addr", "add", f"{address}/24", "dev", "eth0", namespace=namespace)
            ip("link", "set", "eth0", "up", namespace=namespace)
        subprocess.run([SSH_KEYGEN, "-q", "-t", "ed25519", "-N", "", "-f", str(self.key)], check=True, timeout=30)
        host_key = self.workdir / "host_ed25519"
        subprocess.run([SSH_KEYGEN, "-q", "-t", "ed25519", "-N", "", "-f", str(host_key)], check=True, timeout=30)
        (self.workdir / "authorized_keys").write_text(self.key.with_suffix(".pub").read_text())
        Path("/run/sshd").mkdir(exist_ok=True)  # sshd's privilege-separation directory
        for name, address in HOSTS.items():
            config = self.workdir / f"sshd-{name}.conf"
            config.write_text("\n".join([
                f"ListenAddress {address}", "Port 22", f"HostKey {host_key}",
                f"PidFile {self.workdir / f'sshd-{name}.pid'}",
                f"AuthorizedKeysFile {self.workdir / 'authorized_keys'}", "PermitRootLogin prohibit-password",
                "PasswordAuthentication no", "KbdInteractiveAuthentication no", "UsePAM no", "StrictModes no",
                "Subsystem sftp internal-sftp", ""]))
            log = (self.workdir / f"sshd-{name}.log").open("wb")
            self.sshd[name] = subprocess.Popen(
                [IP, "netns", "exec", self.namespaces[name], str(SSHD), "-D", "-e", "-f", str(config)],
                stdout=log, stderr=subprocess.STDOUT)
        self.inventory.write_text(self.inventory_text())
        self.wait_for_ssh()

    def inventory_text(self, hosts: dict[str, str] | None = None, host_vars: dict[str, dict] | None = None) -> str:
        known = self.workdir / "known_hosts"
        lines = ["all:", "  vars:", "    ansible_user: root", f"    ansible_ssh_private_key_file: {self.key}",
                 f'    ansible_ssh_common_args: "-o StrictHostKeyChecking=accept-new -o UserKnownHostsFile={known}"',
                 "    ansible_python_interpreter: /usr/bin/python3", "  children:"]
        for name, address in (hosts or HOSTS).items():
            lines += [f"    {ROLES.get(name, 'db')}:", "      hosts:", f"        {name}:",
                      f"          ansible_host: {address}",
                      *[f"          {key}: {value}" for key, value in (host_vars or {}).get(name, {}).items()]]
        return "\n".join(lines) + "\n"

    def wait_for_ssh(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        for name, address in HOSTS.items():
            while True:
                done = self.run([SSH, "-o", "BatchMode=yes", "-o", "ConnectTimeout=2", "-i", str(self.key),
                                 "-o", "StrictHostKeyChecking=accept-new",
                                 "-o", f"UserKnownHostsFile={self.workdir / 'known_hosts'}", f"root@{address}", "true"],
                                timeout=10)
                if done.returncode == 0:
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"sshd of {name} did not answer: {done.stderr.strip()}")
                time.sleep(0.2)

    def run(self, argv: list[str], timeout: float = 600, **kwargs) -> subprocess.CompletedProcess:
        """A command in the controller's namespace."""
        return subprocess.run([IP, "netns", "exec", self.controller, *argv], capture_output=True, text=True,
                              timeout=timeout, **kwargs)

    def run_on(self, name: str, argv: list[str], timeout: float = 600, **kwargs) -> subprocess.CompletedProcess:
        """A command on one host (in its namespace), as if run there by hand."""
        return subprocess.run([IP, "netns", "exec", self.namespaces[name], *argv], capture_output=True, text=True,
                              timeout=timeout, **kwargs)

    def leftovers(self, name: str) -> list[str]:
        """What runs in a host's namespace besides its sshd: `name (pid)` of each."""
        import psutil

        ours = {self.sshd[name].pid}
        found = []
        for pid in self.pids(name):
            try:
                process = psutil.Process(pid)
                if pid in ours or process.ppid() in ours and process.name() == "sshd":
                    continue
                found.append(f"{process.name()} ({pid})")
            except psutil.NoSuchProcess:
                continue
        return found

    def pids(self, name: str) -> list[int]:
        """Processes running in a host's namespace."""
        done = subprocess.run([IP, "netns", "pids", self.namespaces[name]], capture_output=True, text=True,
                              timeout=30)
        return [int(pid) for pid in done.stdout.split()]

    def __exit__(self, *_exc) -> None:
        for name, process in self.sshd.items():
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
            for pid in self.pids(name):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        for namespace in [*self.namespaces.values(), self.controller]:
            subprocess.run([IP, "netns", "del", namespace], capture_output=True, timeout=30)
