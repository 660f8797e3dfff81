"""The app host's side of a cluster run: calling the agents on the db and load hosts.

Each call carries the controller's token. The agent's clock is read as the controller reads
each host's over SSH (clock.fastest: the fastest of a few round trips), so that a slice's
start and end on this host's clock can be asked of the agent on its own clock. A heartbeat
keeps the agents' lease while the run does things that do not call them (building an
environment, verifying a cell).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import httpx

from runner.base.errors import DbbenchError
from runner.cluster import clock

HEARTBEAT_S = 5.0


@dataclass
class AgentClient:
    name: str  # the host's name in the inventory
    url: str
    token: str
    offset_s: float = 0.0  # the agent's clock less ours
    uncertainty_s: float = 0.0
    client: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=httpx.Timeout(120.0, connect=10.0)))

    def call(self, path: str, body: dict | None = None) -> dict:
        try:
            response = self.client.post(f"{self.url}{path}", json=body or {},
                                        headers={"Authorization": f"Bearer {self.token}"})
        except httpx.HTTPError as error:
            raise DbbenchError(f"the agent on {self.name} does not answer ({type(error).__name__})") from None
        if response.status_code != 200:
            detail = response.json().get("error") if response.headers.get("content-type") == "application/json" \
                else response.text[:200]
            raise DbbenchError(f"the agent on {self.name} refused {path}: {response.status_code} {detail}")
        return response.json()

    def measure_offset(self) -> None:
        found = clock.fastest(lambda: self.call("/time")["time"])
        self.offset_s, self.uncertainty_s = found.seconds, found.uncertainty_s

    def window(self, start: float, end: float) -> dict:
        """The host's CPU by party, steal and busy cores between two instants of our clock."""
        found = self.call("/cpu", {"from": start + self.offset_s, "to": end + self.offset_s})
        return {**found, "from": found["from"] - self.offset_s, "to": found["to"] - self.offset_s}


class Heartbeat:
    """Calls every agent's /time every HEARTBEAT_S while the run lives, so that their lease holds."""

    def __init__(self, agents: list[AgentClient]):
        self.agents = agents
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.beat, daemon=True)

    def beat(self) -> None:
        while not self.stop.wait(HEARTBEAT_S):
            for agent in self.agents:
                try:
                    agent.call("/time")
                except DbbenchError:
                    continue

    def __enter__(self) -> Heartbeat:
        self.thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self.stop.set()
