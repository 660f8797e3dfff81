"""The environments stage: one virtual environment per dependency stack, from its lock file.

The stacks conflict (GINO needs SQLAlchemy 1.3, later stacks need 2.x), so each gets its
own environment under .venvs/, created on first use and reused while its lock file is
unchanged. A build that did not finish leaves no ready marker and is redone. Commands on
other state homes share .venvs/, so a build holds a lock file beside the environment: a second
command that needs it waits for the first build, then uses it. The build's processes die with
the command that started them, however it ends (a first run builds beside its seed, and one
killed then left its installer running).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from runner.base import paths, supervise
from runner.base.console import err
from runner.base.errors import DbbenchError
from runner.cells.catalog import manifest

READY_MARKER = ".dbbench-ready"
# A build that failed once in this process is not retried for every cell of its stack.
_failed_builds: dict[str, str] = {}


def lock_file(stack: str) -> Path:
    stacks = manifest().stacks
    if stack not in stacks:
        raise DbbenchError(f"unknown stack {stack!r} (known: {', '.join(stacks)})")
    return paths.REPO / stacks[stack]["lock"]


def env_dir(stack: str) -> Path:
    return paths.venvs_home() / stack


def python_of(stack: str) -> Path:
    return env_dir(stack) / "bin" / "python"


def lock_digest(stack: str) -> str:
    return hashlib.sha256(lock_file(stack).read_bytes()).hexdigest()


def is_ready(stack: str) -> bool:
    marker = env_dir(stack) / READY_MARKER
    try:
        return marker.read_text().strip() == lock_digest(stack)
    except OSError:
        return False


def ensure(stack: str) -> Path:
    """The stack's Python, building its environment first if needed."""
    if is_ready(stack):
        return python_of(stack)
    if stack in _failed_builds:
        raise DbbenchError(_failed_builds[stack])
    target = env_dir(stack)
    target.parent.mkdir(parents=True, exist_ok=True)
    with (target.parent / f"{stack}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not is_ready(stack):  # another command may have built it while this one waited
            build(stack)
    return python_of(stack)


def build(stack: str) -> None:
    uv = installer()
    target = env_dir(stack)
    log = target.parent / f"{stack}.log"
    shutil.rmtree(target, ignore_errors=True)
    err.print(f"building environment '{stack}' from {lock_file(stack).relative_to(paths.REPO)} (once) ...")
    python = str(python_of(stack))
    steps = [
        [sys.executable, "-m", "venv", "--without-pip", str(target)],
        [uv, "pip", "install", "--quiet", "--python", python, "--no-deps", "--compile-bytecode",
         "-r", str(lock_file(stack))],
        [uv, "pip", "check", "--quiet", "--python", python],
    ]
    with log.open("w") as handle:
        for argv in steps:
            handle.write(f"$ {' '.join(argv)}\n")
            handle.flush()
            result = subprocess.run(argv, stdout=handle, stderr=subprocess.STDOUT, cwd=paths.REPO,
                                    preexec_fn=supervise.die_with_parent(os.getpid()))
            if result.returncode != 0:
                _failed_builds[stack] = f"building environment '{stack}' failed at '{argv[2]}': see {log}"
                raise DbbenchError(_failed_builds[stack])
    (target / READY_MARKER).write_text(lock_digest(stack))


def installed_packages(stack: str) -> dict[str, str]:
    """Name -> version of what the stack's environment holds, for results metadata."""
    if not is_ready(stack):
        return {}
    result = subprocess.run([str(python_of(stack)), "-c", _LIST_DISTRIBUTIONS], capture_output=True, text=True,
                            timeout=120)
    try:
        return dict(sorted(json.loads(result.stdout).items(), key=lambda item: item[0].lower()))
    except (ValueError, AttributeError):
        return {}


# The names as each package spells them (Django, not django), read by the environment's own
# Python: the environments hold no pip, and uv's list gives the normalised names.
_LIST_DISTRIBUTIONS = ("import importlib.metadata as m, json; "
                       "print(json.dumps({d.metadata['Name']: d.version for d in m.distributions()}))")


def installer() -> str:
    """uv, from the runner's environment: it builds an environment from a lock in a fifth of pip's
    time here (gino: 9 s against 50 s), downloading in parallel and compiling on every core."""
    try:
        from uv import find_uv_bin

        return find_uv_bin()
    except (ImportError, FileNotFoundError):
        raise DbbenchError("uv is missing from the runner's environment (.venvs/runner): run `make setup`") from None
