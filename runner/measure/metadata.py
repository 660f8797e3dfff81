"""What ran, on what, with which versions: small collect_* functions, one per source.

Nothing here may hold a password: database URLs pass through mask_url."""

from __future__ import annotations

import contextlib
import os
import platform
import re
import socket
import subprocess
import sys

import psutil
import psycopg

from runner import __version__
from runner.base import paths
from runner.cells import builds, environments
from runner.db import database, seeding
from runner.measure import wrk


def _run(argv: list[str], cwd=None) -> str:
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=60, cwd=cwd)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return result.stdout.strip() if result.returncode == 0 else ""


def collect_project() -> dict:
    commit = _run(["git", "rev-parse", "HEAD"], cwd=paths.REPO) or None
    # docs/ holds what runs write (lessons, examples) and nothing a run executes: a lesson
    # measured after another one has rewritten its page still ran the committed code.
    dirty = bool(_run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".", ":(exclude)docs"],
                      cwd=paths.REPO))
    return {"dbbench_version": __version__, "git_commit": commit, "git_dirty": dirty}


def _cpu_model() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _os_name() -> str:
    try:
        for line in open("/etc/os-release"):
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return platform.system()


def collect_machine() -> dict:
    return {
        "hostname": socket.gethostname(),
        "cpu_model": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpus_available": len(os.sched_getaffinity(0)),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "kernel": platform.release(),
        "os": _os_name(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def collect_stacks(stacks: set[str]) -> dict:
    return {
        stack: {"lock": str(environments.lock_file(stack).relative_to(paths.REPO)),
                "packages": environments.installed_packages(stack)}
        for stack in sorted(stacks)
    }


def collect_go(used: bool) -> dict | None:
    if not used:
        return None
    go, version = builds.find_go()
    requirements = dict(re.findall(r"^\s+(\S+) (v\S+)", (builds.GIN_DIR / "go.mod").read_text(), re.MULTILINE))
    return {
        "go_version": version if go else None,
        "modules": {name: requirements[name] for name in ("github.com/gin-gonic/gin", "github.com/jackc/pgx/v5")
                    if name in requirements},
    }


def collect_postgres(url: str, embedded: bool) -> dict:
    names = list(database.read_settings()) + ["server_version", "work_mem", "max_worker_processes"]
    settings = {}
    with database.connect(url) as conn:
        for name in names:
            with contextlib.suppress(psycopg.Error):  # a setting this server does not know is left out
                settings[name] = conn.execute("SELECT current_setting(%s, true)", (name,)).fetchone()[0]
    return {"url": database.mask_url(url), "embedded": embedded, "settings": settings}


def collect_tools() -> dict:
    return {"python": sys.version.split()[0], "wrk": wrk.wrk_version()}


def collect_dataset(url: str) -> dict:
    seed = seeding.current_seed(url)
    if seed is None:
        return {"users": None, "checksum": None}
    return {"users": seed.users, "checksum": seed.checksum, "fingerprint": seed.fingerprint, "posts": seed.posts,
            "posts_checksum": seed.posts_checksum}
