"""What stands between a run's cells and PostgreSQL: nothing, toxiproxy, PgBouncer, or both.

toxiproxy adds a network's round trip (--db-latency; --proxy at 0 ms; --fault cuts through
it); PgBouncer is the transaction pooler a managed service puts before its database
(--pooler pgbouncer). With both, a cell's connection goes through toxiproxy to PgBouncer and
on to PostgreSQL: the network is between the application and the pooler, and the pooler beside
the database, where managed services place it. Both are measured as one CPU party ("proxy").
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from typing import TYPE_CHECKING

import psutil

from runner.base.console import err
from runner.base.errors import DbbenchError
from runner.db import pooler, proxy, roles
from runner.measure.options import FAULT_AFTER_ROUND
from runner.measure.plan import held_connections

if TYPE_CHECKING:
    from runner.measure.run import Run


@dataclass
class Between:
    url: str  # the database's own URL
    proxy: proxy.Proxy | None = None
    pooler: pooler.PgBouncer | None = None

    def upstream(self) -> str:
        """Where toxiproxy forwards to: PgBouncer where it runs, else the database."""
        return self.pooler.url_for(self.url) if self.pooler else self.url

    def url_for(self, latency_ms: int | None = None) -> str:
        """The URL a cell connects to: through the proxy's listener adding `latency_ms` (its
        default listener when None), else through PgBouncer, else the database's own."""
        if self.proxy is not None:
            return self.proxy.url_for(self.url, latency_ms)
        return self.upstream()

    def roots(self) -> list[subprocess.Popen]:
        return [part.process for part in (self.proxy, self.pooler) if part is not None]

    def processes(self) -> list[psutil.Process] | None:
        """Their processes, measured as the "proxy" party; None where nothing stands between."""
        if self.proxy is None and self.pooler is None:
            return None
        return [*(self.proxy.processes() if self.proxy else []), *(self.pooler.processes() if self.pooler else [])]

    def stop(self) -> None:
        """Outermost first: toxiproxy, then PgBouncer."""
        for part in (self.proxy, self.pooler):
            if part is not None:
                part.stop()


def start_pooler(run: Run) -> None:
    """PgBouncer in transaction mode before PostgreSQL (--pooler pgbouncer): one server pool
    per cell role, as large as the largest cell's own pool, so that no cell holds fewer
    server connections than it would without it."""
    if not run.options.pooler:
        return
    held = [held_connections(run.records[name]) for name in run.runnable]
    run.between.pooler = pooler.PgBouncer.start(
        run.url, [roles.name_for(name) for name in run.runnable], max(held), sum(held),
        run.run_dir / "logs" / "pgbouncer.log")
    run.meta["pooler"] = run.between.pooler.describe()
    err.print(f"PgBouncer {run.between.pooler.version} in transaction mode between the cells and PostgreSQL, "
              f"up to {max(held)} server connections per cell")


def start_proxy(run: Run) -> None:
    """toxiproxy between the cells and PostgreSQL (PgBouncer, where it runs) when a round trip is
    to be added; the cells then connect through it (verification too, so a cell is checked as
    it is measured)."""
    if not run.needs_proxy():
        return
    run.between.proxy = proxy.Proxy.start(run.between.upstream(), run.options.db_latency_ms,
                                           run.run_dir / "logs" / "toxiproxy.log")
    latencies = run.latencies()
    for latency in latencies:
        run.proxy.listener(latency)
    run.meta["proxy"] = run.proxy.describe()
    err.print(f"toxiproxy {run.proxy.version} between the cells and PostgreSQL: "
              f"+{', '.join(map(str, latencies))} ms per round trip"
              + (f"; --fault {run.options.fault} after round {FAULT_AFTER_ROUND}" if run.options.fault else ""))


def release_pooled_connections(run: Run, number: int) -> None:
    """Behind PgBouncer, the group's server connections go with its cells: PgBouncer would keep
    them idle for minutes, holding PostgreSQL's connections from the next group."""
    if run.between is None or run.between.pooler is None:
        return
    try:
        run.between.pooler.release_server_connections()
    except DbbenchError as exc:
        err.print(f"dbbench: warning: after group {number}: {exc}; the next group may find PostgreSQL full")
