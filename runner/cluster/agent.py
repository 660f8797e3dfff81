"""The agent dbbench runs on the db and load hosts of a cluster run.

Ansible starts it (`python -m runner.cluster.agent`); it listens on its host's own address
for the run on the app host, which alone may call it (by address) and must present the
run's token (read from a file its owner alone reads; never printed). It does what has to
happen on its host: it runs wrk (load host), and it samples its parties' CPU every SAMPLE_S
against its own clock (PostgreSQL's on the db host), with the host's steal, keeping every
sample in a JSON-lines file for the results. Asked for the CPU between two instants of its
clock (the run corrects for the offset it measured with /time), it answers from the samples
around them. It stops, its children with it, when told to, or when no request came for
--lease seconds: a run whose controller was killed leaves nothing running here.
"""

from __future__ import annotations

import argparse
import bisect
import hmac
import json
import os
import signal
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psutil

from runner.base import scenarios
from runner.base.errors import DbbenchError
from runner.db import database
from runner.measure import cpu, wrk

SAMPLE_S = 0.1
KEEP_SAMPLES = 20_000  # about half an hour of samples in memory; the file keeps them all
WINDOW_WAIT_S = 2.0  # how long a window ending just now waits for the sample after it


def party_processes(role: str) -> dict[str, list[psutil.Process]]:
    """Whose CPU this host samples: PostgreSQL's on the db host (our embedded cluster's
    postmaster and backends). wrk's own CPU comes exactly from its exit (wait4)."""
    if role != "db":
        return {}
    postmaster = database.EmbeddedCluster.default().postmaster_pid()
    return {"postgres": cpu.postgres_processes(postmaster) if postmaster else []}


@dataclass
class Sample:
    time: float
    parties: dict[str, float]  # each party's CPU seconds since the agent started (PartyCounter)
    steal: float
    busy: float


@dataclass
class PartyCounter:
    """A party's CPU seconds as a counter that never goes back: its live processes' times plus
    the last sampled times of those that exited. A pool that drops connections (a request
    cancelled mid-query, say) and opens new ones would otherwise lose, or take back, the
    CPU of the backends that went away."""

    live: dict[int, float] = field(default_factory=dict)
    exited: float = 0.0

    def update(self, seconds: dict[int, float]) -> float:
        for pid, last in self.live.items():
            if pid not in seconds or seconds[pid] < last:  # gone, or its pid taken by a new process
                self.exited += last
        self.live = dict(seconds)
        return self.exited + sum(seconds.values())


@dataclass
class Sampler:
    role: str
    log: Path
    samples: list[Sample] = field(default_factory=list)
    counters: dict[str, PartyCounter] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self) -> Sample:
        times = psutil.cpu_times()
        parties = {name: self.counters.setdefault(name, PartyCounter()).update(cpu.cpu_seconds(procs))
                   for name, procs in party_processes(self.role).items()}
        found = Sample(time.time(), parties, getattr(times, "steal", 0.0), times.user + times.nice + times.system)
        with self.lock:
            self.samples.append(found)
            del self.samples[:-KEEP_SAMPLES]
        with self.log.open("a") as handle:
            handle.write(json.dumps({"time": round(found.time, 4), "steal_s": found.steal, "busy_s": found.busy,
                                     **{f"{name}_s": round(seconds, 3) for name, seconds in found.parties.items()}})
                         + "\n")
        return found

    def run(self, stop: threading.Event) -> None:
        while not stop.wait(SAMPLE_S):
            self.take()

    def window(self, start: float, end: float) -> dict:
        """CPU of each party, the host's steal (a share of all its CPUs' time) and the cores
        busy between two instants of this host's clock, each counter read between the two
        samples around the instant (linear between them: they are SAMPLE_S apart)."""
        deadline = time.monotonic() + WINDOW_WAIT_S
        while True:
            with self.lock:
                samples = list(self.samples)
            times = [sample.time for sample in samples]
            if samples and times[0] <= start and times[-1] >= end:
                break
            if time.monotonic() > deadline or (samples and times[0] > start):
                raise DbbenchError(f"no samples around {start:.3f}–{end:.3f} on this host")
            time.sleep(SAMPLE_S)
        first, last = at(samples, times, start), at(samples, times, end)
        wall = max(end - start, 1e-6)
        cores = psutil.cpu_count() or 1
        return {"from": start, "to": end,
                "parties": {name: round(seconds - first.parties.get(name, 0.0), 3)
                            for name, seconds in last.parties.items()},
                "steal": round((last.steal - first.steal) / (wall * cores), 4),
                "busy_cores": round((last.busy - first.busy) / wall, 3)}


def at(samples: list[Sample], times: list[float], instant: float) -> Sample:
    """The counters at an instant, read linearly between the samples before and after it."""
    after = min(bisect.bisect_left(times, instant), len(samples) - 1)
    low, high = samples[max(after - 1, 0)], samples[after]
    share = 0.0 if high.time <= low.time else (instant - low.time) / (high.time - low.time)

    def between(a: float, b: float) -> float:
        return a + (b - a) * share

    return Sample(instant, {name: between(low.parties.get(name, 0.0), value) for name, value in high.parties.items()},
                  between(low.steal, high.steal), between(low.busy, high.busy))


class Agent:
    def __init__(self, args):
        self.args = args
        self.token = Path(args.token_file).read_text().strip()
        self.sampler = Sampler(args.role, Path(args.samples))
        self.stop = threading.Event()
        self.last_request = time.monotonic()
        self.usernames: Path | None = None

    def handle(self, path: str, body: dict) -> dict:
        self.last_request = time.monotonic()
        if path == "/time":
            return {"time": time.time()}
        if path == "/cpu":
            return self.sampler.window(float(body["from"]), float(body["to"]))
        if path == "/usernames":
            self.usernames = Path(self.args.samples).with_name("usernames.txt")
            self.usernames.write_text("\n".join(body["names"]) + "\n")
            return {"count": len(body["names"])}
        if path == "/wrk":
            scenario = scenarios.load_scenario(body.pop("scenario"))
            return wrk.run_wrk(scenario=scenario, server_processes=None, usernames=self.usernames, **body)
        if path == "/stop":
            self.stop.set()
            return {"stopping": True}
        raise DbbenchError(f"no such request: {path}")

    def watch_lease(self) -> None:
        while not self.stop.wait(1.0):
            if time.monotonic() - self.last_request > self.args.lease:
                self.stop.set()


def handler_for(agent: Agent):
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's name
            if agent.args.allow and self.client_address[0] not in agent.args.allow:
                return self.answer(403, {"error": "not from the app host"})
            given = self.headers.get("Authorization", "").removeprefix("Bearer ")
            if not hmac.compare_digest(given.encode(), agent.token.encode()):
                return self.answer(401, {"error": "wrong or missing token"})
            length = int(self.headers.get("Content-Length") or 0)
            try:
                body = json.loads(self.rfile.read(length) or b"{}")
                return self.answer(200, agent.handle(self.path, body))
            except (DbbenchError, KeyError, TypeError, ValueError) as error:
                return self.answer(400, {"error": str(error)})

        def answer(self, status: int, document: dict) -> None:
            data = json.dumps(document).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *_args) -> None:
            pass

    return Handler


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="runner.cluster.agent")
    parser.add_argument("--role", choices=("db", "load"), required=True)
    parser.add_argument("--listen", required=True, help="this host's address")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--token-file", required=True)
    parser.add_argument("--allow", action="append", default=[], help="the app host's address")
    parser.add_argument("--lease", type=float, default=30.0, help="seconds without a request before it stops")
    parser.add_argument("--samples", required=True, help="the JSON-lines file of this host's samples")
    parser.add_argument("--pid-file")
    args = parser.parse_args(argv)
    if args.pid_file:
        Path(args.pid_file).write_text(f"{os.getpid()}\n")
    Path(args.samples).write_text("")  # this agent's samples alone: a run fetches them
    agent = Agent(args)
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, lambda *_: agent.stop.set())
    agent.sampler.take()
    server = ThreadingHTTPServer((args.listen, args.port), handler_for(agent))
    server.daemon_threads = True
    for target in (lambda: agent.sampler.run(agent.stop), agent.watch_lease, server.serve_forever):
        threading.Thread(target=target, daemon=True).start()
    agent.stop.wait()
    server.shutdown()
    for child in psutil.Process().children(recursive=True):
        child.kill()
    if args.pid_file:
        Path(args.pid_file).unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
