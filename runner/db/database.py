"""The database stage: an embedded PostgreSQL cluster or an external URL, and the seed.

The embedded cluster is a throwaway: created with initdb under the state home, started
with pg_ctl on a free loopback port with trust authentication, reused on the next call.
PostgreSQL refuses to run as root, so as root it runs as the `postgres` system user.

Exposed (`db up --listen ADDR --allow CIDR`, the db host of `dbbench cluster`), it also
listens on that one address, where only the allowed networks may connect, with
scram-sha-256 and a password generated for it, kept in a file only its owner can read;
loopback keeps trust for this host's own dbbench commands."""

from __future__ import annotations

import getpass
import glob
import hashlib
import ipaddress
import json
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

from runner.base import paths
from runner.base.errors import DbbenchError
from runner.base.ports import free_port, port_is_free

DB_NAME = "dbbench"
DB_USER = "dbbench"
MIN_SERVER_VERSION = 130000
SERVER_BINARIES = ("initdb", "pg_ctl", "postgres")
CONNECT_TIMEOUT_S = 5
SECRET_FILE_NAME = "db-password"  # noqa: S105 - a file name: the exposed cluster's password, mode 0600


@dataclass(frozen=True)
class Exposure:
    """The one address the embedded cluster listens on beyond loopback, and the networks
    (the app hosts) that may connect there."""

    address: str
    allowed: tuple[str, ...]

    @classmethod
    def parse(cls, address: str, allowed: list[str]) -> Exposure:
        try:
            listen = ipaddress.ip_address(address)
        except ValueError:
            raise DbbenchError(f"--listen {address!r} is not an IP address") from None
        if listen.is_unspecified or listen.is_loopback:
            raise DbbenchError(f"--listen {address}: give the one address the app hosts reach, not {address}")
        if not allowed:
            raise DbbenchError("--listen needs --allow: the app hosts' addresses or networks (CIDR)")
        networks = []
        for item in allowed:
            try:
                network = ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise DbbenchError(f"--allow {item!r} is not an address or a network (CIDR)") from None
            if network.prefixlen == 0:
                raise DbbenchError(f"--allow {item}: every address is too wide; name the app hosts")
            networks.append(str(network))
        return cls(str(listen), tuple(networks))

    def hba_text(self) -> str:
        return "".join([
            "# Written by dbbench: trust on loopback for this host's own dbbench commands, and the\n"
            "# benchmark database, with a password (scram-sha-256), from the allowed networks alone.\n"
            f"# +{DB_USER}: its role and the cells' own roles, members of it (runner/db/roles.py).\n",
            f"host all +{DB_USER} 127.0.0.1/32 trust\n",
            *[f"host {DB_NAME} +{DB_USER} {network} scram-sha-256\n" for network in self.allowed],
        ])


def hba_text(exposure: Exposure | None) -> str:
    """Who may connect from where: the benchmark's role and the cells' own roles, members of it
    (`+dbbench`, runner/db/roles.py), on loopback alone unless exposed."""
    if exposure:
        return exposure.hba_text()
    return (f"# Written by dbbench: loopback alone, for {DB_USER} and the cells' roles.\n"
            f"host all +{DB_USER} 127.0.0.1/32 trust\n")


def mask_url(url: str) -> str:
    """The URL with any password replaced by ***, safe to print or store."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable URL>"
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        if ":" in userinfo:
            userinfo = userinfo.split(":", 1)[0] + ":***"
        netloc = f"{userinfo}@{host}"
    query = "&".join(
        "password=***" if item.lower().startswith("password=") else item
        for item in parts.query.split("&")
    ) if parts.query else ""
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def scrub(text: str, url: str) -> str:
    """Remove the URL's password from a message that may have echoed it."""
    password = urlsplit(url).password if "://" in url else None
    return text.replace(password, "***") if password else text


def check_url(url: str) -> str:
    """Reject what is not a PostgreSQL URL before anything tries to connect to it."""
    scheme = url.split("://", 1)[0] if "://" in url else ""
    if scheme not in ("postgres", "postgresql"):
        raise DbbenchError(
            f"not a PostgreSQL URL: {mask_url(url)!r} (expected postgresql://user@host:port/db)"
        )
    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018 - parsing the port is the check
    except ValueError:
        raise DbbenchError(f"bad port in database URL {mask_url(url)}") from None
    if not parts.hostname and "host=" not in parts.query:
        raise DbbenchError(f"database URL has no host: {mask_url(url)}")
    return url


def connect(url: str, autocommit: bool = True):
    """A psycopg connection with a short timeout and a one-line, password-free error."""
    try:
        return psycopg.connect(url, autocommit=autocommit, connect_timeout=CONNECT_TIMEOUT_S)
    except psycopg.Error as exc:
        reason = scrub(str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__, url)
        raise DbbenchError(f"cannot connect to {mask_url(url)}: {reason}") from None


def reachable(url: str) -> bool:
    """Whether the server answers a trivial query now (a bounded attempt, never raises)."""
    try:
        with connect(url) as conn:
            conn.execute("SELECT 1")
        return True
    except (DbbenchError, psycopg.Error, OSError):
        return False


def port_of(url: str) -> int:
    """The server's TCP port as the URL names it (PostgreSQL's default when it names none)."""
    try:
        return urlsplit(url).port or 5432
    except ValueError:
        return 5432


def server_version(url: str) -> tuple[int, str]:
    with connect(url) as conn:
        num = conn.execute("SHOW server_version_num").fetchone()[0]
        text = conn.execute("SHOW server_version").fetchone()[0]
    return int(num), text


def check_external(url: str) -> str:
    """An external server is used as it is: reachable, new enough, nothing started."""
    check_url(url)
    num, text = server_version(url)
    if num < MIN_SERVER_VERSION:
        raise DbbenchError(f"PostgreSQL {text} at {mask_url(url)} is too old: 13 or newer is needed")
    return url


def find_server_bin(name: str) -> str | None:
    """A server binary from PATH, else from the newest /usr/lib/postgresql/*/bin."""
    override = os.environ.get("DBBENCH_PG_BIN")
    if override:
        candidate = Path(override) / name
        return str(candidate) if candidate.exists() else None
    found = shutil.which(name)
    if found:
        return found
    dirs = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"),
        key=lambda d: int(Path(d).parent.name) if Path(d).parent.name.isdigit() else 0,
    )
    for directory in reversed(dirs):
        candidate = Path(directory) / name
        if candidate.exists():
            return str(candidate)
    return None


def server_binaries() -> dict[str, str]:
    found = {name: find_server_bin(name) for name in SERVER_BINARIES}
    missing = [name for name, path in found.items() if not path]
    if missing:
        raise DbbenchError(
            f"PostgreSQL server binaries not found ({', '.join(missing)}): "
            "install them with 'apt-get install postgresql', or set DBBENCH_PG_BIN to their directory"
        )
    return found


def settings_file() -> Path:
    return paths.SCHEMA_DIR / "server.conf"


def read_settings(path: Path | None = None) -> dict[str, str]:
    """The benchmark's server settings, as name -> value with quotes removed."""
    settings: dict[str, str] = {}
    for raw in (path or settings_file()).read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        name, _, value = line.partition("=")
        settings[name.strip()] = value.strip().strip("'")
    return settings


def running_as_root() -> bool:
    return os.geteuid() == 0


@dataclass
class EmbeddedCluster:
    """The throwaway cluster under the state home, reused from one call to the next."""

    home: Path

    @classmethod
    def default(cls) -> EmbeddedCluster:
        return cls(paths.state_home())

    @property
    def state_file(self) -> Path:
        return self.home / "cluster.json"

    def _state(self) -> dict:
        try:
            return json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return {}

    def _save_state(self, **values) -> None:
        state = self._state() | values
        self.home.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2))
        tmp.replace(self.state_file)

    @property
    def server_user(self) -> str:
        """Who runs the server: postgres when we are root, else ourselves."""
        return "postgres" if running_as_root() else getpass.getuser()

    @property
    def cluster_dir(self) -> Path:
        return Path(self._state().get("cluster_dir") or self.home / "pg")

    @property
    def data_dir(self) -> Path:
        return self.cluster_dir / "data"

    @property
    def log_file(self) -> Path:
        return self.cluster_dir / "postgres.log"

    @property
    def port(self) -> int | None:
        return self._state().get("port")

    def url(self, port: int | None = None) -> str:
        return f"postgresql://{DB_USER}@127.0.0.1:{port or self.port}/{DB_NAME}"

    def _as_server_user(self, argv: list[str]) -> list[str]:
        if running_as_root():
            return ["runuser", "-u", "postgres", "--", *argv]
        return argv

    def _run(self, argv: list[str], timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run(
            self._as_server_user(argv), capture_output=True, text=True, timeout=timeout, cwd="/"
        )

    def _prepare_cluster_dir(self) -> None:
        """Create the cluster directory, owned by the server user and reachable by it.

        As root, a checkout under a private directory (like /root) is out of the postgres
        user's reach; the cluster then lives in a per-checkout directory under the system
        temporary directory, and the state file remembers where.
        """
        directory = self.cluster_dir
        directory.mkdir(parents=True, exist_ok=True)
        if not running_as_root():
            return
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            raise DbbenchError(
                "running as root, but there is no 'postgres' system user to run the server "
                "(PostgreSQL refuses root): install 'postgresql' or run as a normal user"
            ) from None
        shutil.chown(directory, "postgres", "postgres")
        if self._run(["test", "-w", str(directory)]).returncode == 0:
            return
        digest = hashlib.sha256(str(self.home).encode()).hexdigest()[:12]
        fallback = Path(tempfile.gettempdir()) / f"dbbench-{digest}"
        fallback.mkdir(mode=0o700, exist_ok=True)
        shutil.chown(fallback, "postgres", "postgres")
        self._save_state(cluster_dir=str(fallback))

    def is_initialized(self) -> bool:
        return (self.data_dir / "PG_VERSION").exists()

    def initialize(self) -> None:
        bins = server_binaries()
        self._prepare_cluster_dir()
        if self.data_dir.exists():
            # A data directory without PG_VERSION is an initdb that never finished.
            shutil.rmtree(self.data_dir)
        result = self._run(
            [
                bins["initdb"], "-D", str(self.data_dir), "-U", DB_USER, "-A", "trust",
                "-E", "UTF8", "--locale=C", "--no-sync",
            ]
        )
        if result.returncode != 0:
            detail = (result.stderr or result.stdout).strip().splitlines()
            raise DbbenchError(f"initdb failed: {detail[-1] if detail else 'no output'}")
        conf = self.data_dir / "postgresql.conf"
        with conf.open("a") as handle:
            handle.write("\ninclude 'dbbench.conf'\n")

    def _write_conf(self, port: int, exposure: Exposure | None = None) -> None:
        """Write the benchmark settings plus this cluster's port into the data dir, and who may
        connect from where (pg_hba.conf: loopback alone, unless exposed)."""
        written = [(self.data_dir / "dbbench.conf", self._conf_text_for(port, exposure)),
                   (self.data_dir / "pg_hba.conf", hba_text(exposure))]
        for target, text in written:
            target.write_text(text)
            if running_as_root():
                shutil.chown(target, "postgres", "postgres")

    def _applied_settings_digest(self) -> str | None:
        try:
            return hashlib.sha256((self.data_dir / "dbbench.conf").read_bytes()).hexdigest()
        except OSError:
            return None

    def running_port(self) -> int | None:
        """The port of a live postmaster on this data dir, from postmaster.pid."""
        bins = server_binaries()
        if not self.is_initialized():
            return None
        status = self._run([bins["pg_ctl"], "status", "-D", str(self.data_dir)], timeout=30)
        if status.returncode != 0:
            return None
        try:
            lines = (self.data_dir / "postmaster.pid").read_text().splitlines()
            return int(lines[3])
        except (OSError, IndexError, ValueError):
            return None

    def postmaster_pid(self) -> int | None:
        try:
            return int((self.data_dir / "postmaster.pid").read_text().splitlines()[0])
        except (OSError, IndexError, ValueError):
            return None

    def _choose_port(self, requested: int | None) -> int:
        if requested is not None:
            if not port_is_free(requested):
                raise DbbenchError(f"port {requested} on 127.0.0.1 is in use: choose another with --port")
            return requested
        remembered = self.port
        if remembered and port_is_free(remembered):
            return remembered
        return free_port()

    def start(self, requested_port: int | None = None, exposure: Exposure | None = None) -> int:
        bins = server_binaries()
        port = self._choose_port(requested_port)
        self._write_conf(port, exposure)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        result = self._run(
            [
                bins["pg_ctl"], "start", "-D", str(self.data_dir), "-l", str(self.log_file),
                "-w", "-t", "60", "-s",
            ],
            timeout=90,
        )
        if result.returncode != 0:
            raise DbbenchError(f"PostgreSQL did not start on port {port}: {self.log_tail()}")
        self._save_state(port=port)
        return port

    def log_tail(self, lines: int = 3) -> str:
        try:
            tail = [line for line in self.log_file.read_text(errors="replace").splitlines() if line.strip()]
        except OSError:
            return f"no log at {self.log_file}"
        return " | ".join(tail[-lines:]) or f"empty log at {self.log_file}"

    def stop(self) -> bool:
        """Stop the cluster if it runs; True if it was running."""
        if self.running_port() is None:
            return False
        bins = server_binaries()
        result = self._run([bins["pg_ctl"], "stop", "-D", str(self.data_dir), "-m", "fast", "-w", "-s"], timeout=90)
        if result.returncode != 0:
            raise DbbenchError(f"pg_ctl stop failed: {(result.stderr or result.stdout).strip()}")
        return True

    def up(self, requested_port: int | None = None, exposure: Exposure | None = None) -> str:
        """Make sure the cluster runs with the current settings (exposed or not); return its
        loopback URL."""
        if not self.is_initialized():
            self.initialize()
        port = self.running_port()
        if port is not None and requested_port not in (None, port):
            raise DbbenchError(
                f"the embedded cluster already runs on port {port}: 'dbbench db down' first to move it"
            )
        if port is not None:
            expected = hashlib.sha256(self._conf_text_for(port, exposure).encode()).hexdigest()
            if self._applied_settings_digest() != expected:
                self.stop()
                port = None
        if port is None:
            port = self.start(requested_port, exposure)
        self._ensure_database(port)
        if exposure is not None:
            self._set_password(port)
        return self.url(port)

    @property
    def password_file(self) -> Path:
        return self.home / SECRET_FILE_NAME

    def _set_password(self, port: int) -> None:
        """The role's password for connections beyond loopback: generated once, kept in a file
        only its owner reads, set again at each start so that the two always agree."""
        password = paths.secret(self.password_file, 24)
        with connect(self.url(port)) as conn:
            conn.execute(sql.SQL("ALTER ROLE {} WITH PASSWORD {}").format(sql.Identifier(DB_USER),
                                                                          sql.Literal(password)))

    def exposed_url(self, exposure: Exposure) -> str:
        """The URL the app hosts use, without its password (that is in password_file)."""
        return f"postgresql://{DB_USER}@{exposure.address}:{self.port}/{DB_NAME}"

    def _conf_text_for(self, port: int, exposure: Exposure | None = None) -> str:
        """What _write_conf writes (and, exposed, the pg_hba.conf it needs), so that a change of
        either is noticed and applied."""
        listen = "127.0.0.1" + (f", {exposure.address}" if exposure else "")
        return settings_file().read_text() + (
            "\n# Set by dbbench for the embedded cluster.\n"
            f"listen_addresses = '{listen}'\n"
            f"port = {port}\n"
            "unix_socket_directories = ''\n"
            "logging_collector = off\n"
            "password_encryption = 'scram-sha-256'\n"
        ) + "\n# pg_hba.conf, as written beside this file:\n" + "".join(
            f"# {line}" for line in hba_text(exposure).splitlines(True))

    def _ensure_database(self, port: int) -> None:
        admin_url = f"postgresql://{DB_USER}@127.0.0.1:{port}/postgres"
        deadline = time.monotonic() + 30
        while True:
            try:
                conn = connect(admin_url)
                break
            except DbbenchError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        with conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DB_NAME,)).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{DB_NAME}"')
        with connect(self.url(port)) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")

    def status(self) -> dict:
        port = self.running_port() if self.is_initialized() else None
        return {
            "initialized": self.is_initialized(),
            "running": port is not None,
            "port": port,
            "data_dir": str(self.data_dir),
            "server_user": self.server_user,
            "url": self.url(port) if port else None,
        }


def database_url(db_url: str | None) -> tuple[str, bool]:
    """The URL to use and whether it is the embedded cluster (which we may start)."""
    url = db_url or os.environ.get("DATABASE_URL")
    if url:
        return check_external(url), False
    return EmbeddedCluster.default().up(), True
