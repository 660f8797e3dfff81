"""The cells stage: what can run (apps/cells.toml), how each cell is started and stopped.

A cell is one framework with one data-access variant. Its process runs in its own
session (process group), so stopping it stops every worker it forked, and nothing else;
it dies with the CLI that started it, however the CLI ends (runner/base/supervise.py).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import re
import shutil
import signal
import subprocess
import time
import tomllib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import httpx
import psutil

from runner.base import paths, supervise
from runner.base.errors import DbbenchError
from runner.cells import environments
from runner.measure.load import RELATION_ENDPOINTS

MANIFEST = paths.APPS_DIR / "cells.toml"
GIN_DIR = paths.APPS_DIR / "gin"
LIFELINE_DIR = paths.APPS_DIR / "lifeline"  # makes every Python process of a cell die with its parent
POOL_HEADROOM = 0.125
MIN_POOL_HEADROOM = 4
READY_TIMEOUT_S = 60
STOP_TIMEOUT_S = 10


@dataclass(frozen=True)
class Framework:
    name: str
    kind: str
    server: str
    variants: tuple[str, ...]
    malformed: int
    default: bool = False
    reference: bool = False
    stack: str | None = None
    settings: dict = field(default_factory=dict)  # driver settings its server needs (prepare_threshold)
    legacy: str | None = None  # why it is kept although unmaintained
    note: str | None = None  # what its figures include that others' do not (the report says it)


@dataclass(frozen=True)
class Variant:
    name: str
    strategy: str
    summary: str
    stack: str | None = None
    default: bool = False
    # The lookups per request it promises for each relationship endpoint it serves (the
    # verifier holds it to them); a variant without them does not serve those endpoints.
    relations: dict[str, int | str] = field(default_factory=dict)
    relations_only: bool = False  # elsewhere the same code as another variant: not measured there
    settings: dict = field(default_factory=dict)  # driver settings set on purpose and recorded (prepare_threshold)
    legacy: str | None = None  # why it is kept although unmaintained


@dataclass(frozen=True)
class Cell:
    framework: Framework
    variant: Variant

    @property
    def name(self) -> str:
        return f"{self.framework.name}/{self.variant.name}"

    @property
    def is_python(self) -> bool:
        return self.framework.kind.startswith("python")

    def processes(self, server_cpus: int) -> int:
        """Python servers get one worker process per CPU; Go gets GOMAXPROCS in one process."""
        return server_cpus if self.is_python else 1

    @property
    def settings(self) -> dict:
        """The driver settings it runs with: the variant's, and its framework's over them."""
        return {**self.variant.settings, **self.framework.settings}

    @property
    def legacy(self) -> str | None:
        """Why it is kept although part of it is unmaintained, or None."""
        return self.variant.legacy or self.framework.legacy

    @property
    def stack(self) -> str | None:
        """The environment it runs in: the framework's own stack, else the variant's."""
        return self.framework.stack or self.variant.stack

    def unserved(self, endpoints) -> str | None:
        """Why it cannot serve these endpoints, or None: a relationship endpoint its variant has
        no promise for (apps/cells.toml)."""
        missing = [e for e in endpoints if e in RELATION_ENDPOINTS and e not in self.variant.relations]
        return (f"variant {self.variant.name} does not serve {', '.join(missing)} (not implemented for it yet)"
                if missing else None)

    def redundant(self, endpoints) -> str | None:
        """Why measuring it here would measure another variant's code again, or None."""
        if self.variant.relations_only and not any(e in RELATION_ENDPOINTS for e in endpoints):
            return (f"{self.variant.name} differs from its base variant only in how it loads relationships: "
                    f"measured on {' and '.join(RELATION_ENDPOINTS)} only")
        return None


@dataclass(frozen=True)
class Manifest:
    frameworks: dict[str, Framework]
    variants: dict[str, Variant]
    stacks: dict[str, dict]

    def cells(self) -> list[Cell]:
        return [
            Cell(framework, self.variants[variant])
            for framework in self.frameworks.values()
            for variant in framework.variants
        ]

    def cell(self, framework: str, variant: str) -> Cell:
        if framework not in self.frameworks:
            raise DbbenchError(f"unknown framework {framework!r} (known: {', '.join(self.frameworks)})")
        if variant not in self.frameworks[framework].variants:
            known = ", ".join(self.frameworks[framework].variants)
            raise DbbenchError(f"{framework} has no variant {variant!r} (it has: {known})")
        return Cell(self.frameworks[framework], self.variants[variant])

    def select(self, frameworks: list[str] | None, variants: list[str] | None, everything: bool) -> list[Cell]:
        """The cells named by --frameworks/--variants; by default the default cells, with
        `everything` every cell."""
        for name in frameworks or ():
            if name not in self.frameworks:
                raise DbbenchError(f"unknown framework {name!r} (known: {', '.join(self.frameworks)})")
        for name in variants or ():
            if name not in self.variants:
                raise DbbenchError(f"unknown variant {name!r} (known: {', '.join(self.variants)})")
        chosen = [
            cell for cell in self.cells()
            if (cell.framework.name in frameworks if frameworks else everything or cell.framework.default)
            and (cell.variant.name in variants if variants else everything or frameworks or cell.variant.default)
        ]
        if not chosen:
            raise DbbenchError("no cell matches the selected frameworks and variants")
        return chosen


@cache
def manifest() -> Manifest:
    data = tomllib.loads(MANIFEST.read_text())
    variants = {
        name: Variant(name=name, strategy=v["strategy"], summary=v["summary"], stack=v.get("stack"),
                      default=v.get("default", False), relations=dict(v.get("relations", {})),
                      relations_only=v.get("relations-only", False), settings=dict(v.get("settings", {})),
                      legacy=v.get("legacy"))
        for name, v in data["variants"].items()
    }
    frameworks = {
        name: Framework(
            name=name, kind=f["kind"], server=f["server"], variants=tuple(f["variants"]),
            malformed=f["malformed"], default=f.get("default", False), reference=f.get("reference", False),
            stack=f.get("stack"), settings=dict(f.get("settings", {})), legacy=f.get("legacy"), note=f.get("note"),
        )
        for name, f in data["frameworks"].items()
    }
    return Manifest(frameworks=frameworks, variants=variants, stacks=data["stacks"])


# ----------------------------------------------------------------- Go


def go_required() -> str:
    match = re.search(r"^go (\S+)", (GIN_DIR / "go.mod").read_text(), re.MULTILINE)
    return match.group(1) if match else "1.21"


def _version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text)[:3])


def find_go() -> tuple[str | None, str]:
    """A Go toolchain at least as new as apps/gin/go.mod asks, and what was found."""
    needed = go_required()
    candidates = [
        os.environ.get("DBBENCH_GO"),
        str(paths.state_home() / "toolchain" / "bin" / "go"),
        shutil.which("go"),
        "/usr/local/go/bin/go",
    ]
    seen = []
    for candidate in filter(None, candidates):
        if not os.access(candidate, os.X_OK):
            continue
        try:
            version = subprocess.run(
                [candidate, "env", "GOVERSION"], capture_output=True, text=True, timeout=30,
                env={**os.environ, "GOTOOLCHAIN": "local"},
            ).stdout.strip().removeprefix("go")
        except (OSError, subprocess.TimeoutExpired):
            continue
        seen.append(version)
        if version and _version_tuple(version) >= _version_tuple(needed):
            return candidate, version
    found = f"found {', '.join(seen)}" if seen else "none found"
    return None, f"needs Go {needed} or newer ({found}; run 'bash runner/bootstrap.sh' as root)"


# How the Gin app is built, and its Go tests run: the same flags, so that `go test` reuses the
# build's compiled packages (a -trimpath build shares none with a test run without it).
GO_BUILD_ENV = {"GOTOOLCHAIN": "local", "GOFLAGS": "-mod=readonly -trimpath"}


def gin_binary() -> Path:
    """Build the Gin app once per source version; later calls reuse the binary."""
    go, detail = find_go()
    if go is None:
        raise DbbenchError(f"the Gin cells {detail}")
    digest = hashlib.sha256()
    for source in sorted(GIN_DIR.glob("*")):
        if source.is_file():
            digest.update(source.name.encode() + source.read_bytes())
    target = paths.state_home() / "bin" / f"gin-{digest.hexdigest()[:12]}"
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [go, "build", "-o", str(target), "."], cwd=GIN_DIR, capture_output=True, text=True,
        timeout=600, env={**os.environ, **GO_BUILD_ENV}, preexec_fn=supervise.die_with_parent(os.getpid()),
    )
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().splitlines()
        raise DbbenchError(f"go build of apps/gin failed: {detail[-1] if detail else 'no output'}")
    return target


def build(cell: Cell) -> Path:
    """What the cell runs, built on first use: its stack's Python, or the Gin binary."""
    return environments.ensure(cell.stack) if cell.is_python else gin_binary()


def availability(cell: Cell) -> tuple[bool, str]:
    """Whether a cell can run here, and if not, why (without building anything)."""
    if cell.framework.kind == "go":
        go, detail = find_go()
        return (True, f"Go {detail}") if go else (False, detail)
    if cell.stack not in manifest().stacks:
        return False, f"{cell.name} names no known stack"
    state = "ready" if environments.is_ready(cell.stack) else "built on first use"
    return True, f"environment {cell.stack} ({state})"


# ----------------------------------------------------------------- sizing


def pool_size_for(connections: int, workers: int) -> int:
    """Each worker's pool: its share of wrk's connections plus headroom.

    A pool smaller than the connections in flight would queue requests on the pool and
    measure that queue, not the framework.
    """
    share = math.ceil(connections / workers)
    return share + max(MIN_POOL_HEADROOM, math.ceil(share * POOL_HEADROOM))


# ----------------------------------------------------------------- processes


def wait_answering(base_url: str, timeout: float, failure: str, log_tail: Callable[[], str],
                   still_running: Callable[[], None] = lambda: None) -> None:
    """Until a lookup gets an answer below 500, with a bound (`still_running` raises if the
    cell died meanwhile)."""
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=2.0) as client:
        while True:
            still_running()
            try:
                if client.get(f"{base_url}/users/1").status_code < 500:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise DbbenchError(f"{failure} within {timeout:.0f} s: {log_tail()}")
            time.sleep(0.1)


@dataclass
class CellProcess:
    """A running cell: its process group, port and log file."""

    cell: Cell
    port: int
    workers: int
    pool_size: int
    log_path: Path | None
    host: str = "127.0.0.1"
    users: int = 10_000  # the seed's user count: /queries draws its ids from 1..users
    process: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def expected_connections(self) -> int:
        """Every worker process opens its whole pool at start-up."""
        return self.cell.processes(self.workers) * self.pool_size

    def command(self) -> tuple[list[str], dict[str, str]]:
        if self.cell.is_python:
            python = environments.ensure(self.cell.stack)
            argv = [
                str(python), "-m", "apps.serve", self.cell.framework.name, self.cell.variant.name,
                "--host", self.host, "--port", str(self.port), "--workers", str(self.workers),
                "--pool-size", str(self.pool_size),
            ]
            lifeline = os.pathsep.join(filter(None, [str(LIFELINE_DIR), os.environ.get("PYTHONPATH")]))
            return argv, {"PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1", "PYTHONPATH": lifeline,
                          "DBBENCH_USERS": str(self.users), "DBBENCH_CELL_SETTINGS": json.dumps(self.cell.settings)}
        argv = [
            str(gin_binary()), "--host", self.host, "--port", str(self.port),
            "--pool-size", str(self.pool_size), "--variant", self.cell.variant.name, "--users", str(self.users),
        ]
        return argv, {"GOMAXPROCS": str(self.workers)}

    def start(self, db_url: str) -> None:
        """Start the cell in a session of its own; its output goes to the log file, or to
        our own output when there is none (dbbench serve)."""
        argv, extra_env = self.command()
        env = {**os.environ, **extra_env, "DATABASE_URL": db_url}
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("wb") if self.log_path else contextlib.nullcontext() as log:
            self.process = subprocess.Popen(
                argv, cwd=paths.REPO, env=env, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT if log else None, preexec_fn=supervise.session_dying_with_parent(),
            )

    def log_tail(self, lines: int = 5) -> str:
        if self.log_path is None:
            return "(output above)"
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        tail = [line.strip() for line in text.splitlines() if line.strip()][-lines:]
        return " | ".join(tail) if tail else "(empty log)"

    def wait_ready(self, timeout: float = READY_TIMEOUT_S) -> None:
        """Wait until the cell answers a lookup, with a bound; fail with its log tail."""

        def still_running() -> None:
            if self.process.poll() is not None:
                raise DbbenchError(f"{self.cell.name} exited with code {self.process.returncode} before answering: "
                                   f"{self.log_tail()}")

        wait_answering(self.base_url, timeout, f"{self.cell.name} did not answer", self.log_tail, still_running)

    def processes(self) -> list[psutil.Process]:
        """The cell's process and every process it forked (its workers)."""
        try:
            root = psutil.Process(self.process.pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def rss_mib(self, processes: list[psutil.Process] | None = None) -> float:
        """Resident memory of the cell's whole process tree (`processes`, else looked up), MiB:
        what its threads or tasks cost."""
        total = 0
        for proc in processes if processes is not None else self.processes():
            try:
                total += proc.memory_info().rss
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
        return round(total / 2**20, 2)

    def database_connections(self, db_port: int) -> int:
        """Established TCP connections from the cell's processes to the database's port: its
        pools, told apart from those of the other cells that are up at the same time."""
        count = 0
        for proc in self.processes():
            try:
                count += sum(1 for conn in proc.net_connections(kind="tcp")
                             if conn.raddr and conn.raddr.port == db_port and conn.status == psutil.CONN_ESTABLISHED)
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
        return count

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        """SIGTERM to the server's main process, which stops its own workers as it does in
        production; whatever of its group is left after a grace period gets SIGKILL."""
        if self.process is None or self.process.returncode is not None:
            return
        members = self.processes()
        try:
            self.process.send_signal(signal.SIGTERM)
        except ProcessLookupError:
            return
        _, alive = psutil.wait_procs(members, timeout=STOP_TIMEOUT_S)
        for proc in alive:
            try:
                proc.kill()
            except psutil.NoSuchProcess:
                pass
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(timeout=STOP_TIMEOUT_S)

    def __enter__(self) -> CellProcess:
        return self

    def __exit__(self, *_exc) -> None:
        self.stop()


def stop_all(processes: list[CellProcess | RemoteCell]) -> None:
    """Every process stopped at once. A Python server took about 1.9 s to stop here, so a
    tuning's four instances stopped one after the other took 7.5 s of each cell's 40."""
    if not processes:
        return
    with ThreadPoolExecutor(max_workers=len(processes), thread_name_prefix="stop") as pool:
        list(pool.map(lambda process: process.stop(), processes))


@dataclass
class RemoteCell:
    """A cell already serving on another host (`dbbench run --target`): measured and verified
    from here, never started or stopped here. Its processes, so its CPU time and the
    connections its pool holds, are on its own host: unknown (None) here."""

    cell: Cell
    base_url: str
    process: None = None
    expected_connections: None = None

    def start(self, db_url: str) -> None:
        """Nothing to start: it was started on its own host, with its own database URL."""

    def wait_ready(self, timeout: float = READY_TIMEOUT_S) -> None:
        wait_answering(self.base_url, timeout, f"the remote cell at {self.base_url} did not answer", self.log_tail)

    def processes(self) -> None:
        return None

    def rss_mib(self, processes: None = None) -> None:
        return None

    def database_connections(self, db_port: int) -> int:
        return 0

    def alive(self) -> bool:
        return True

    def log_tail(self, lines: int = 5) -> str:
        return "(remote: its log is on its own host)"

    def stop(self) -> None:
        """Not ours to stop."""
