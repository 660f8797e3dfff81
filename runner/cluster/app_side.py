"""The app host's side of `dbbench cluster run`: the run itself, with PostgreSQL and wrk elsewhere.

The controller starts `dbbench cluster app-run --plan ...` here over SSH. It is the same
run as `dbbench run` (runner/measure/run.py: verification, warm interleaved slices, blocked
estimates, the report), with three things in other places:
- the cells listen on this host's address and use the db host's PostgreSQL, with the
  password `cluster up` left here (never printed, never in the results);
- every slice's wrk runs on the load host, through its agent;
- the CPU of each party comes from its own host: the cells' from here, around the slice;
  PostgreSQL's and the hosts' steal from the agents' samples over the same instants,
  corrected for each agent's clock offset; wrk's from its exit on the load host.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import time
from urllib.parse import quote, urlsplit, urlunsplit

from runner.base import paths
from runner.base.errors import DbbenchError
from runner.cells import lifecycle
from runner.cluster import agent_client
from runner.db import database
from runner.measure import cpu, noise
from runner.measure.options import RunOptions
from runner.measure.placement import Placement
from runner.measure.run import Run

PASSWORD_FILE = "cluster-db-password"  # noqa: S105 - a file name: up.yml leaves the password there, mode 0600
TOKEN_FILE = "agent-token"  # noqa: S105 - a file name, mode 0600
PID_FILE = "cluster-run.pid"  # down.yml stops the run by it
LAST_RUN_FILE = "cluster-last-run"  # where the run's results are, for fetch.yml
RESULTS_DIR = "cluster-results"
PARTIES = {"db": "postgres", "app": "cells", "load": "wrk"}  # what runs on a host of each role
CLIENT_BACKENDS = ("SELECT DISTINCT host(client_addr) FROM pg_stat_activity WHERE backend_type = 'client backend' "
                   "AND client_addr IS NOT NULL AND pid <> pg_backend_pid() ORDER BY 1")


def encode_plan(plan: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(plan).encode()).decode()


def decode_plan(text: str) -> dict:
    try:
        return json.loads(base64.urlsafe_b64decode(text.encode()))
    except ValueError:
        raise DbbenchError("--plan is not a plan written by dbbench cluster run") from None


def with_password(url: str, password: str) -> str:
    parts = urlsplit(url)
    netloc = f"{parts.username}:{quote(password, safe='')}@{parts.hostname}:{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


class ClusterHosts(Placement):
    """The cells on this (the app) host; wrk on the load host and PostgreSQL on the db host, each
    measured through its agent."""

    def __init__(self, plan: dict):
        self.cluster = plan
        self.cell_host = plan["app_address"]
        token = (paths.state_home() / TOKEN_FILE).read_text().strip()
        self.agents = {role: agent_client.AgentClient(found["host"], found["url"], token)
                       for role, found in plan["agents"].items()}

    def around(self) -> contextlib.AbstractContextManager:
        return agent_client.Heartbeat(list(self.agents.values()))

    def prepared(self, run: Run) -> None:
        """Each agent's clock offset, the usernames the load host's scripts need, every host's
        facts in the results."""
        for agent in self.agents.values():
            agent.measure_offset()
        if run.usernames is not None:
            self.agents["load"].call("/usernames", {"names": run.usernames.read_text().split()})
        offsets = {agent.name: agent for agent in self.agents.values()}
        run.document["metadata"]["hosts"] = [
            {**host, "runs": [PARTIES[role] for role in host["roles"]],
             **({"offset_from_app_ms": round(offsets[host["name"]].offset_s * 1000, 3),
                 "offset_from_app_uncertainty_ms": round(offsets[host["name"]].uncertainty_s * 1000, 3)}
                if host["name"] in offsets else {})}
            for host in self.cluster["hosts"]]
        run.meta["cluster"] = {"layout": self.cluster["layout"], "client_addrs": {}}

    def pinning(self, run: Run, server_cpus: int) -> cpu.Pinning:
        """This host runs the cells alone (and this process): they get their cores."""
        cores = sorted(os.sched_getaffinity(0))
        if len(cores) <= server_cpus:
            return cpu.Pinning(note=f"not pinned: the app host has {len(cores)} cores for {server_cpus} server "
                                    "CPU(s); PostgreSQL and wrk run on hosts of their own")
        return cpu.Pinning(server=cores[:server_cpus],
                           note=f"cells pinned to cores {cores[:server_cpus]} of the app host; PostgreSQL and "
                                "wrk run on hosts of their own")

    def group_started(self, run: Run, number: int) -> None:
        """The addresses PostgreSQL sees the group's clients connect from (this host's)."""
        with database.connect(run.url) as conn:
            seen = [row[0] for row in conn.execute(CLIENT_BACKENDS)]
        run.meta["cluster"]["client_addrs"][str(number)] = seen

    def closed_loop(self, run: Run, name: str, process: lifecycle.CellProcess, duration_s: float, seed: int,
                    tree: list | None = None) -> dict:
        """wrk on the load host; each party's CPU from its own host over the same instants."""
        parties = cpu.Parties(tree if tree is not None else process.processes())
        before = parties.snapshot()
        began = time.time()
        found = self.agents["load"].call("/wrk", {
            "base_url": process.base_url, "scenario": run.plan.scenario.name, "duration_s": duration_s,
            "connections": run.records[name]["connections"], "max_id": run.max_id, "seed": seed,
            **run.lua_args()})
        ended = time.time()
        server = parties.used(before)["server"]
        windows = {role: self.agents[role].window(began, ended) for role in ("db", "load")}
        found["cpu_seconds"] = {"wrk": found["cpu_seconds"]["wrk"], "server": server,
                                "postgres": windows["db"]["parties"].get("postgres")}
        found["hosts"] = {self.agents[role].name: {"role": role, "steal": window["steal"],
                                                   "busy_cores": window["busy_cores"],
                                                   "from": round(window["from"], 4), "to": round(window["to"], 4)}
                          for role, window in windows.items()}
        return found

    def local_cpu(self, cpu_seconds: dict) -> float:
        """Only the cells run here: wrk and PostgreSQL are on their own hosts."""
        return cpu_seconds.get("server") or 0.0

    def disturbed(self, entry: dict) -> bool:
        """This host's noise, or steal on the db or load host beyond the same threshold."""
        return noise.disturbed(entry["noise"]) or any(
            host["steal"] > noise.DISTURBED_STEAL for host in (entry.get("hosts") or {}).values())


def cmd_app_run(args) -> int:
    """The run, on the app host, as the controller planned it; its results stay here for fetch.yml."""
    from runner.measure.run import execute

    plan = decode_plan(args.plan)
    home = paths.state_home()
    password = home / PASSWORD_FILE
    if not password.exists():
        raise DbbenchError(f"{password} is missing: run `dbbench cluster up` first")
    pid_file = home / PID_FILE
    pid_file.write_text(f"{os.getpid()}\n")
    try:
        options = RunOptions(**plan["options"], db_url=with_password(plan["database_url"],
                                                                     password.read_text().strip()),
                             out=home / RESULTS_DIR)
        runner = Run(options, ClusterHosts(plan))
        (home / LAST_RUN_FILE).write_text(f"{runner.run_dir}\n")
        code = execute(runner)
        return 0 if code is None else code
    finally:
        pid_file.unlink(missing_ok=True)
