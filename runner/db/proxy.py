"""A network between the cells and PostgreSQL: toxiproxy in the path, adding round-trip time.

On loopback a query's round trip takes microseconds; across a network 0.2 to 2 ms, and that
is where asyncio earns its keep. toxiproxy (Shopify's TCP proxy for latency and fault
injection; built once, on first use, by runner/bootstrap.sh --proxy) sits between every
cell and PostgreSQL and delays each direction by half the round trip asked for. It is driven
through its HTTP API, dies with the CLI that started it, and its CPU time is measured as a
party of its own. At 0 ms none is started: the cells talk to PostgreSQL directly.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import psutil

from runner.base import paths, ports, supervise
from runner.base.errors import DbbenchError

NAME = "postgres"
START_TIMEOUT_S = 10.0


def binary() -> Path:
    """toxiproxy, built on first use (runner/bootstrap.sh --proxy, about 45 s of compiling on two
    cores): `make bench-db` on loopback never needs it, and a first run should not wait for it.
    Callers ask for it before they measure anything."""
    found = paths.built_tool("toxiproxy-server")
    if found is None:
        subprocess.run([shutil.which("bash") or "/bin/bash", str(paths.REPO / "runner" / "bootstrap.sh"), "--proxy"],
                       stdin=subprocess.DEVNULL, check=False)
        found = paths.built_tool("toxiproxy-server")
    if found is None:
        raise DbbenchError(f"--db-latency needs toxiproxy, which could not be built in {paths.state_home() / 'bin'} "
                           "(see runner/bootstrap.sh --proxy's messages above)")
    return found


def built_version() -> str:
    """The pinned version the bootstrap built (a `go install` build reports its own as "git")."""
    return paths.built_version("toxiproxy-server")


def through(url: str, port: int) -> str:
    """The same database URL, with 127.0.0.1:port (the proxy) in place of its host and port."""
    parts = urlsplit(url)
    credentials = parts.netloc.rpartition("@")[0]
    netloc = f"{credentials}@127.0.0.1:{port}" if credentials else f"127.0.0.1:{port}"
    return urlunsplit(parts._replace(netloc=netloc))


def split_round_trip(latency_ms: int) -> dict[str, int]:
    """Half the round trip each way; toxiproxy counts whole milliseconds, so an odd one puts
    the extra millisecond on the way to PostgreSQL."""
    return {"upstream": latency_ms - latency_ms // 2, "downstream": latency_ms // 2}


@dataclass
class Proxy:
    """One toxiproxy server with one proxy in front of PostgreSQL, and for a paired latency
    sweep one more listener per added round trip (`listeners`: latency -> port)."""

    process: subprocess.Popen
    api: str
    port: int
    latency_ms: int
    version: str
    upstream: str = ""
    listeners: dict[int, int] = dataclasses.field(default_factory=dict)

    @classmethod
    def start(cls, db_url: str, latency_ms: int, log_path: Path) -> Proxy:
        upstream = urlsplit(db_url)
        api_port, listen_port = ports.free_port(), ports.free_port()
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [str(binary()), "-host", "127.0.0.1", "-port", str(api_port)], stdin=subprocess.DEVNULL,
                stdout=log, stderr=subprocess.STDOUT, preexec_fn=supervise.die_with_parent(os.getpid()))
        api = f"http://127.0.0.1:{api_port}"
        target = f"{upstream.hostname or '127.0.0.1'}:{upstream.port or 5432}"
        try:
            version = cls.wait_for_api(process, api, log_path)
            started = cls(process=process, api=api, port=listen_port, latency_ms=latency_ms, version=version,
                          upstream=target)
            started.create(NAME, listen_port, latency_ms)
        except BaseException:
            process.kill()
            process.wait()
            raise
        started.listeners[latency_ms] = listen_port
        return started

    def create(self, name: str, port: int, latency_ms: int) -> None:
        """A proxy listening on `port`, delaying each direction by half of `latency_ms`."""
        self.call("POST", f"{self.api}/proxies", {"name": name, "listen": f"127.0.0.1:{port}", "enabled": True,
                                                  "upstream": self.upstream})
        for stream, delay in split_round_trip(latency_ms).items():
            if delay:
                self.call("POST", f"{self.api}/proxies/{name}/toxics", {
                    "name": f"latency-{stream}", "type": "latency", "stream": stream,
                    "attributes": {"latency": delay, "jitter": 0}})

    def listener(self, latency_ms: int) -> int:
        """The port of a listener adding `latency_ms`, created on first use."""
        if latency_ms not in self.listeners:
            port = ports.free_port()
            self.create(self.name_of(latency_ms), port, latency_ms)
            self.listeners[latency_ms] = port
        return self.listeners[latency_ms]

    @staticmethod
    def wait_for_api(process: subprocess.Popen, api: str, log_path: Path) -> str:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise DbbenchError(f"toxiproxy exited with code {process.returncode}: see {log_path}")
            try:
                answer = httpx.get(f"{api}/version", timeout=1.0)
                if answer.status_code == 200:
                    return built_version()
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise DbbenchError(f"toxiproxy did not answer on {api} within {START_TIMEOUT_S:.0f} s: see {log_path}")

    @staticmethod
    def call(method: str, url: str, body: dict) -> dict:
        try:
            answer = httpx.request(method, url, json=body, timeout=5.0)
        except httpx.HTTPError as exc:
            raise DbbenchError(f"toxiproxy's API did not answer {method} {url}: {type(exc).__name__}") from None
        if answer.status_code >= 300:
            raise DbbenchError(f"toxiproxy refused {method} {url}: {answer.status_code} {answer.text.strip()[:200]}")
        return answer.json() if answer.content else {}

    def set_enabled(self, enabled: bool) -> None:
        """Disabled, the proxy drops every connection it carries and refuses new ones: to the
        cells, PostgreSQL is gone; enabled again, it is back."""
        for latency in self.listeners or {self.latency_ms: self.port}:
            self.call("POST", f"{self.api}/proxies/{self.name_of(latency)}", {"enabled": enabled})

    def name_of(self, latency_ms: int) -> str:
        return NAME if latency_ms == self.latency_ms else f"{NAME}-{latency_ms}ms"

    def url_for(self, db_url: str, latency_ms: int | None = None) -> str:
        """What the cells connect to: the database URL through the proxy (through the listener
        adding `latency_ms`, when given)."""
        return through(db_url, self.port if latency_ms is None else self.listener(latency_ms))

    def processes(self) -> list[psutil.Process]:
        try:
            return [psutil.Process(self.process.pid)]
        except psutil.NoSuchProcess:
            return []

    def describe(self) -> dict:
        """What the results record: never the upstream's credentials."""
        described = {"tool": "toxiproxy", "version": self.version, "latency_ms": self.latency_ms,
                     "per_direction_ms": split_round_trip(self.latency_ms)}
        if len(self.listeners) > 1:
            described["listeners_ms"] = sorted(self.listeners)
        return described

    def stop(self) -> None:
        supervise.stop_process(self.process)


@contextmanager
def between(db_url: str, latency_ms: int, log_path: Path) -> Iterator[tuple[str, Proxy | None]]:
    """The URL cells should use, through a proxy adding `latency_ms` while the block runs; at 0
    the database's own URL and no proxy."""
    if not latency_ms:
        yield db_url, None
        return
    started = Proxy.start(db_url, latency_ms, log_path)
    try:
        yield started.url_for(db_url), started
    finally:
        started.stop()
