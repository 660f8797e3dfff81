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

import psutil

from runner.db import pooler, proxy


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
