"""A running cell: how it is started and stopped.

Its process runs in its own session (process group), so stopping it stops every worker it forked,
and nothing else; it dies with the CLI that started it, however the CLI ends
(runner/base/supervise.py). A RemoteCell is one already serving on another host."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil

from runner.base import paths, ports, supervise
from runner.base.errors import DbbenchError
from runner.cells import environments
from runner.cells.builds import gin_binary
from runner.cells.catalog import Cell
from runner.cells.minimal import MinimalApp

LIFELINE_DIR = paths.APPS_DIR / "lifeline"  # makes every Python process of a cell die with its parent
READY_TIMEOUT_S = 60
# A traceback's last line: a dotted class (psycopg.errors.DuplicatePreparedStatement: ...) or
# a bare one named for an error (ValueError: ...).
EXCEPTION_LINE = re.compile(r"^((?:[a-z_]\w*\.)+[A-Z]\w*|\w*(?:Error|Exception)): ")
STOP_TIMEOUT_S = 10


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
    settings: dict | None = None  # its driver settings where a run sets others (a pooler's); else the cell's
    minimal: MinimalApp | None = None  # its minimal app, served in its place (dbbench parity)
    wrap: tuple[str, ...] = ()  # a program its command runs under (valgrind, for dbbench cost)
    extra_env: dict[str, str] = field(default_factory=dict)  # set beside its own environment
    process: subprocess.Popen | None = field(default=None, repr=False)

    @classmethod
    def on_free_port(cls, cell: Cell, **settings) -> CellProcess:
        """A cell to start on a free port (`dbbench serve` alone takes the port it is given)."""
        return cls(cell, port=ports.free_port(), **settings)

    @property
    def name(self) -> str:
        """What it is called in messages: the cell's name, or its minimal app's."""
        return f"{self.cell.name}'s minimal app ({self.minimal.app})" if self.minimal else self.cell.name

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def driver_settings(self) -> dict:
        return self.cell.settings if self.settings is None else self.settings

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
                "--pool-size", str(self.pool_size), *(self.minimal.argv() if self.minimal else []),
            ]
            lifeline = os.pathsep.join(filter(None, [str(LIFELINE_DIR), os.environ.get("PYTHONPATH")]))
            return argv, {"PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1", "PYTHONPATH": lifeline,
                          "DBBENCH_USERS": str(self.users), "DBBENCH_CELL_SETTINGS": json.dumps(self.driver_settings)}
        argv = [str(gin_binary("minimal" if self.minimal else ".")), "--host", self.host, "--port", str(self.port),
                "--pool-size", str(self.pool_size)]
        if not self.minimal:  # the minimal app, a program of its own, takes only the address and the pool size
            argv += ["--variant", self.cell.variant.name, "--users", str(self.users)]
        return argv, {"GOMAXPROCS": str(self.workers), "DBBENCH_CELL_SETTINGS": json.dumps(self.driver_settings)}

    def start(self, db_url: str) -> None:
        """Start the cell in a session of its own; its output goes to the log file, or to
        our own output when there is none (dbbench serve)."""
        argv, extra_env = self.command()
        argv = [*self.wrap, *argv]
        env = {**os.environ, **extra_env, **self.extra_env, "DATABASE_URL": db_url}
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

    def last_error(self) -> str | None:
        """The last exception its log names ("asyncpg.exceptions.…Error: …"), one line: why a cell
        that answered badly did, where its own log says."""
        if self.log_path is None:
            return None
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return None
        found = [line.strip() for line in text.splitlines() if EXCEPTION_LINE.match(line.strip())]
        return found[-1][:300] if found else None

    def wait_ready(self, timeout: float = READY_TIMEOUT_S) -> None:
        """Wait until the cell answers a lookup, with a bound; fail with its log tail."""

        def still_running() -> None:
            if self.process.poll() is not None:
                raise DbbenchError(f"{self.name} exited with code {self.process.returncode} before answering: "
                                   f"{self.log_tail()}")

        wait_answering(self.base_url, timeout, f"{self.name} did not answer", self.log_tail, still_running)

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
