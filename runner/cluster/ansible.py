"""Running the shipped playbooks (runner/cluster/playbooks) with ansible-playbook.

Results come back through a small stdout callback of our own (callbacks/dbbench_json.py),
by task and host. Secrets (the run's
database password) go in a vars file readable by this user alone, deleted at once, and the
tasks that use them are no_log: never on a command line, never in output. Pipelining sends
each module over the task's one SSH command instead of copying it to a temporary file first
(no play uses become, so no requiretty stands in its way): `cluster up` and `down` took 40 s
where they took 56.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from runner.base import paths
from runner.base.errors import DbbenchError
from runner.cluster.inventory import Inventory

PLAYBOOKS = Path(__file__).with_name("playbooks")
CALLBACKS = Path(__file__).with_name("callbacks")  # dbbench_json: every result by task and host


def ansible_playbook() -> str:
    """The ansible-playbook beside this Python (the runner's environment), else on PATH."""
    beside = Path(sys.executable).with_name("ansible-playbook")
    found = str(beside) if beside.exists() else shutil.which("ansible-playbook")
    if not found:
        raise DbbenchError("ansible-playbook is missing: run 'make setup' (ansible-core is in the runner's lock)")
    return found


def run(name: str, inventory: Inventory, variables: dict | None = None, secrets: dict | None = None,
        timeout_s: float = 1800) -> dict[str, dict[str, dict]]:
    """Run playbooks/NAME.yml; {task name: {host: result}}. A host that fails or cannot be
    reached is a one-line error naming it and why."""
    home = paths.state_home() / "ansible"
    home.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "ANSIBLE_STDOUT_CALLBACK": "dbbench_json", "ANSIBLE_CALLBACK_PLUGINS": str(CALLBACKS),
           "ANSIBLE_HOME": str(home),
           "ANSIBLE_LOCAL_TEMP": str(home / "tmp"), "ANSIBLE_RETRY_FILES_ENABLED": "false",
           "ANSIBLE_NOCOLOR": "1", "ANSIBLE_SSH_CONTROL_PATH_DIR": str(home / "cp"), "ANSIBLE_PIPELINING": "true"}
    argv = [ansible_playbook(), "-i", str(inventory.path), str(PLAYBOOKS / f"{name}.yml")]
    with tempfile.TemporaryDirectory(prefix="dbbench-ansible-") as tmp:
        for index, values in enumerate(filter(None, (variables, secrets))):
            file = Path(tmp) / f"vars-{index}.json"
            file.touch(mode=0o600)
            file.write_text(json.dumps(values))
            argv += ["-e", f"@{file}"]
        try:
            done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=timeout_s,
                                  cwd=paths.REPO)
        except subprocess.TimeoutExpired:
            raise DbbenchError(f"ansible-playbook {name}.yml did not finish within {timeout_s:.0f} s") from None
    try:
        report = json.loads(done.stdout[done.stdout.index("{"):])
    except ValueError:
        tail = (done.stderr or done.stdout).strip().splitlines()
        raise DbbenchError(f"ansible-playbook {name}.yml failed (exit {done.returncode}): "
                           f"{tail[-1] if tail else 'no output'}") from None
    by_task: dict[str, dict[str, dict]] = report.get("tasks", {})
    for host, stats in report.get("stats", {}).items():
        if stats.get("unreachable") or stats.get("failures"):
            raise DbbenchError(f"{name}: host {host}: {first_problem(by_task, host)}")
    if done.returncode != 0:
        raise DbbenchError(f"ansible-playbook {name}.yml failed (exit {done.returncode})")
    return by_task


def first_problem(by_task: dict[str, dict[str, dict]], host: str) -> str:
    """What went wrong on a host, in one line: the first failed or unreachable task's message."""
    for task, hosts in by_task.items():
        result = hosts.get(host) or {}
        if result.get("unreachable") or result.get("failed"):
            message = str(result.get("msg") or result.get("stderr") or "failed").strip().splitlines()
            kind = "unreachable" if result.get("unreachable") else f"task {task!r} failed"
            return f"{kind}: {message[0] if message else ''}"
    return "failed"
