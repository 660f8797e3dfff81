"""A transaction pooler between the cells and PostgreSQL: PgBouncer, as managed services run it.

Many managed PostgreSQL services put PgBouncer in transaction mode in front of the database:
a client connection holds a server connection for one transaction only, so a statement
prepared by name on one server connection is not there on the next. PgBouncer learned to
track prepared statements in 1.21; Debian's is 1.18, so each driver's own setting for a
transaction pooler is what makes a cell work here (apps/cells.toml, `pooler`).

The run starts it (Debian's package, installed by runner/bootstrap.sh --pooler), bound to
loopback on a free port, one server pool per cell role as large as the largest cell's pool,
so that no cell holds fewer server connections than it would without it; it dies with the
CLI that started it, its CPU time is measured with the proxies', and its version is recorded.
A PgBouncer new enough to keep prepared statements (1.21+) is told to keep none.
PostgreSQL's binaries and PgBouncer both refuse to run as root: as root, it runs as postgres.
"""

from __future__ import annotations

import os
import pwd
import resource
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

import psutil

from runner.base import paths, ports, supervise
from runner.base.errors import DbbenchError
from runner.db import database
from runner.db.proxy import through

CHOICES = ("pgbouncer",)
PREFIX = "dbbench-pgbouncer-"  # its configuration's directory, under the temporary directory
START_TIMEOUT_S = 10.0
RUN_AS = "postgres"  # PgBouncer will not run as root
CLIENT_HEADROOM = 64  # client connections beyond the cells' pools: verification's, a restart's


def binary() -> Path:
    """pgbouncer, installed on first use (Debian's package, through runner/bootstrap.sh --pooler)."""
    found = installed()
    if found is None:
        subprocess.run([shutil.which("bash") or "/bin/bash", str(paths.REPO / "runner" / "bootstrap.sh"), "--pooler"],
                       stdin=subprocess.DEVNULL, check=False)
        found = installed()
    if found is None:
        raise DbbenchError("--pooler pgbouncer needs PgBouncer (Debian's package pgbouncer), which could not be "
                           "installed (see runner/bootstrap.sh --pooler's messages above)")
    return found


def installed() -> Path | None:
    """On PATH, or where Debian puts it (/usr/sbin is not on every user's PATH)."""
    found = shutil.which("pgbouncer") or next(
        (path for path in ("/usr/sbin/pgbouncer", "/usr/bin/pgbouncer") if os.access(path, os.X_OK)), None)
    return Path(found) if found else None


def version_of(program: Path) -> str:
    """"1.18.0", from `pgbouncer --version`'s first line ("PgBouncer 1.18.0")."""
    try:
        first = subprocess.run([str(program), "--version"], capture_output=True, text=True, timeout=10,
                               check=False).stdout.splitlines()
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise DbbenchError(f"cannot run {program} --version: {exc}") from None
    return first[0].split()[-1] if first and first[0].split() else "unknown"


def config_text(upstream: str, port: int, auth: str, users_file: Path, pool_size: int, max_clients: int,
                admin: str = "", version: str = "1.18.0") -> str:
    """pgbouncer.ini: transaction pooling on loopback, every database to `upstream`, no checks
    of its own on the server connections (a `SELECT 1` would count as a cell's statement). A
    PgBouncer that can track prepared statements (1.21 and later) is told to keep none, so that
    the pooler measured is the one the drivers' settings are for, whatever the package's version."""
    host, _, upstream_port = upstream.rpartition(":")
    return "\n".join([
        "[databases]",
        f"* = host={host} port={upstream_port}",
        "[pgbouncer]",
        "listen_addr = 127.0.0.1",
        f"listen_port = {port}",
        "unix_socket_dir =",
        f"auth_type = {auth}",
        f"auth_file = {users_file}",
        f"admin_users = {admin}",
        "pool_mode = transaction",
        f"default_pool_size = {pool_size}",
        "min_pool_size = 0",
        "reserve_pool_size = 0",
        f"max_client_conn = {max_clients}",
        "max_db_connections = 0",
        "server_check_query =",
        "server_reset_query =",
        "ignore_startup_parameters = extra_float_digits",
        *(["max_prepared_statements = 0"] if tracks_prepared_statements(version) else []),
        "",
    ])


def tracks_prepared_statements(version: str) -> bool:
    """PgBouncer 1.21 and later can keep prepared statements across transactions."""
    try:
        major, minor = (int(part) for part in version.split(".")[:2])
    except ValueError:
        return True  # unknown: say "keep none" rather than trust a default
    return (major, minor) >= (1, 21)


def users_text(users: dict[str, str]) -> str:
    """auth_file: each role with the password it logs in with, quoted as PgBouncer reads them."""
    def quoted(text: str) -> str:
        return '"' + text.replace('"', '""') + '"'

    return "".join(f"{quoted(user)} {quoted(password)}\n" for user, password in sorted(users.items()))


@dataclass
class PgBouncer:
    """One PgBouncer process in transaction mode, before PostgreSQL."""

    process: subprocess.Popen
    port: int
    version: str
    pool_size: int
    directory: Path
    admin_url: str = field(default="", repr=False)  # its admin console, as the run's user (admin_users)
    database: str = ""

    def release_server_connections(self) -> None:
        """Close every server connection it holds, as a group of cells ends: PgBouncer keeps idle
        ones for server_idle_timeout (10 minutes), and the next group's would not find room in
        PostgreSQL's max_connections. KILL drops the database's connections, RESUME lets new ones in.
        The admin console speaks the simple query protocol only: a client-side cursor."""
        import psycopg

        step = "connecting to"
        try:
            with psycopg.connect(self.admin_url, autocommit=True, connect_timeout=5,
                                 cursor_factory=psycopg.ClientCursor) as console:
                for step in ("KILL", "RESUME"):
                    console.execute(f"{step} {self.database}")
        except psycopg.Error as exc:
            reason = database.scrub(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__,
                                    self.admin_url)
            raise DbbenchError(f"PgBouncer's admin console failed at {step}: {reason[:200]}") from None

    @classmethod
    def start(cls, db_url: str, users: list[str], pool_size: int, max_clients: int, log_path: Path) -> PgBouncer:
        """PgBouncer before the database of `db_url`, accepting `users` (each with that URL's
        password, as the cells' roles have: runner/db/roles.py) and giving each of them up to
        `pool_size` server connections."""
        program = binary()
        version = version_of(program)
        parts = urlsplit(db_url)
        password = unquote(parts.password or "")
        everyone = {user: password for user in {*users, unquote(parts.username or "")} if user}
        remove_abandoned()
        directory = Path(tempfile.mkdtemp(prefix=PREFIX))
        try:
            (directory / "owner").write_text(str(os.getpid()))
            port = ports.free_port()
            users_file = directory / "users.txt"
            users_file.write_text(users_text(everyone))
            users_file.chmod(0o600)
            (directory / "pgbouncer.ini").write_text(config_text(
                f"{parts.hostname or '127.0.0.1'}:{parts.port or 5432}", port,
                "scram-sha-256" if password else "trust", users_file, pool_size, max_clients + CLIENT_HEADROOM,
                unquote(parts.username or ""), version))
            account = run_as()
            if account is not None:
                for path in (directory, *directory.iterdir()):
                    os.chown(path, account.pw_uid, account.pw_gid)
            log_path.parent.mkdir(parents=True, exist_ok=True)
            with log_path.open("wb") as log:
                process = subprocess.Popen(
                    [str(program), str(directory / "pgbouncer.ini")], stdin=subprocess.DEVNULL, stdout=log,
                    stderr=subprocess.STDOUT, preexec_fn=open_files_for(2 * max_clients + CLIENT_HEADROOM),
                    **({"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []} if account else {}))
        except BaseException:
            shutil.rmtree(directory, ignore_errors=True)
            raise
        started = cls(process=process, port=port, version=version, pool_size=pool_size, directory=directory,
                      admin_url=through(db_url, port).rsplit("/", 1)[0] + "/pgbouncer", database=parts.path.lstrip("/"))
        try:
            started.wait_listening(log_path)
        except BaseException:
            started.stop()
            raise
        return started

    def wait_listening(self, log_path: Path) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise DbbenchError(f"PgBouncer exited with code {self.process.returncode}: see {log_path}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        raise DbbenchError(f"PgBouncer did not listen on 127.0.0.1:{self.port} within {START_TIMEOUT_S:.0f} s: "
                           f"see {log_path}")

    def url_for(self, db_url: str) -> str:
        """The database URL through PgBouncer: its credentials and database, PgBouncer's address."""
        return through(db_url, self.port)

    def processes(self) -> list[psutil.Process]:
        try:
            return [psutil.Process(self.process.pid)]
        except psutil.NoSuchProcess:
            return []

    def describe(self) -> dict:
        """What the results record: never a password."""
        return {"tool": "pgbouncer", "version": self.version, "pool_mode": "transaction",
                "server_pool_per_role": self.pool_size}

    def stop(self) -> None:
        supervise.stop_process(self.process)
        shutil.rmtree(self.directory, ignore_errors=True)


def open_files_for(needed: int):
    """A Popen preexec_fn: die with us, and room for `needed` open files (a client's socket and its
    server connection's for each of the cells' connections; the soft limit is often 1,024), up to
    the hard limit."""
    dying = supervise.die_with_parent(os.getpid())

    def preexec() -> None:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        wanted = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        if wanted > soft:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
        dying()

    return preexec


def remove_abandoned() -> None:
    """The configuration directories of runs killed outright (SIGKILL leaves no time to tidy):
    those whose owning process is gone, so that no auth file outlives its run for long."""
    for directory in Path(tempfile.gettempdir()).glob(f"{PREFIX}*"):
        try:
            owner = int((directory / "owner").read_text())
        except (OSError, ValueError):
            continue
        if not psutil.pid_exists(owner):
            shutil.rmtree(directory, ignore_errors=True)


def run_as() -> pwd.struct_passwd | None:
    """The account PgBouncer runs as: postgres when we are root (it refuses root), else ours."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(RUN_AS)
    except KeyError:
        raise DbbenchError(f"PgBouncer refuses to run as root and there is no {RUN_AS} account to run it as "
                           "(Debian's postgresql package makes one)") from None
