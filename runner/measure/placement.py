"""Where a run's parties run, and how each is measured there: the one interface a run calls for
it, declared here and implemented whole by each placement, never overridden step by step.

`Here` is the single-host run: cells, wrk and PostgreSQL on this machine, each party's CPU from
its own processes, pinned to disjoint cores where there are enough. A cluster run's app host
(runner/cluster/app_side.py, `ClusterHosts`) is the other: the cells here, wrk on the load host
and PostgreSQL on the db host, their CPU and steal from the agents there.
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

from runner.measure import cpu, noise, wrk

if TYPE_CHECKING:
    from runner.cells.lifecycle import CellProcess
    from runner.measure.run import Run


class Placement(ABC):
    cell_host: str  # the address the cells listen on

    @abstractmethod
    def around(self) -> contextlib.AbstractContextManager:
        """Held while the run runs (a cluster run keeps its agents' heartbeat)."""

    @abstractmethod
    def prepared(self, run: Run) -> None:
        """After the run's own preparation: what this placement records or sends ahead."""

    @abstractmethod
    def pinning(self, run: Run, server_cpus: int) -> cpu.Pinning:
        """The cores of the parties that run on this host."""

    @abstractmethod
    def group_started(self, run: Run, number: int) -> None:
        """After a group's cells are up, verified and warm."""

    @abstractmethod
    def closed_loop(self, run: Run, name: str, process: CellProcess, duration_s: float, seed: int,
                    tree: list | None = None) -> dict:
        """wrk against a cell for a while (a slice, or its warm-up), with each party's CPU."""

    @abstractmethod
    def local_cpu(self, cpu_seconds: dict) -> float:
        """The CPU this host's measured parties used in a slice, which host noise is told apart from."""

    @abstractmethod
    def disturbed(self, entry: dict) -> bool:
        """Whether host noise spoiled a slice, which is then measured again if the run's rule pays."""


class Here(Placement):
    """Everything on this machine."""

    cell_host = "127.0.0.1"

    def around(self) -> contextlib.AbstractContextManager:
        return contextlib.nullcontext()

    def prepared(self, run: Run) -> None:
        pass

    def pinning(self, run: Run, server_cpus: int) -> cpu.Pinning:
        """Disjoint cores for the cells, wrk and our PostgreSQL, where this host has enough."""
        return cpu.Pinning.plan(server_cpus, run.plan.scenario.threads, run.postmaster_pid)

    def group_started(self, run: Run, number: int) -> None:
        pass

    def closed_loop(self, run: Run, name: str, process: CellProcess, duration_s: float, seed: int,
                    tree: list | None = None) -> dict:
        return wrk.run_wrk(process.base_url, duration_s=duration_s, seed=seed,
                           **run.load_args(name, process, tree), **run.lua_args())

    def local_cpu(self, cpu_seconds: dict) -> float:
        return sum(value for value in cpu_seconds.values() if value)

    def disturbed(self, entry: dict) -> bool:
        return noise.disturbed(entry["noise"])
