"""The scenarios: what each asks of a cell (scenarios/*.toml and its Lua), its endpoints, and the
slice lengths a scenario may declare. The contract's workloads, read by cells, the verifier and the
measurement alike."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from runner.base import paths
from runner.base.errors import DbbenchError

MIN_SLICE_S = 0.25
MAX_SLICE_S = 3600
ENDPOINTS = ("by-id", "by-username", "page", "edit", "user-posts", "feed", "queries")
# Served by the variants that declare how many lookups each of these sends (apps/cells.toml).
RELATION_ENDPOINTS = ("user-posts", "feed")
REQUEST_KINDS = (*ENDPOINTS, "missing")  # a mix may also ask for users that do not exist


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    script: Path
    connections: int
    threads: int
    slice_s: int | float  # one measured slice; a cell is measured in many, interleaved with the others
    warmup_s: int  # once, when the cell first starts (it stays up afterwards)
    primer_s: int
    endpoints: tuple[str, ...]  # what the verifier checks before the scenario measures a cell
    writes: bool  # the seeded data is put back after it runs
    weights: dict[str, int] | None = None  # a mix: request kind -> share in percent

    @property
    def endpoint_weights(self) -> dict[str, float] | None:
        """The mix's shares by endpoint: a missing user is a lookup by id or by username, half each."""
        if not self.weights:
            return None
        shares = {endpoint: float(self.weights.get(endpoint, 0)) for endpoint in self.endpoints}
        missing = self.weights.get("missing", 0) / 2
        for endpoint in ("by-id", "by-username"):
            if endpoint in shares:
                shares[endpoint] += missing
        return shares

    def lua_environment(self) -> dict[str, str]:
        """The mix's weights for its Lua script, as DBBENCH_WEIGHTS=kind:share,..."""
        if not self.weights:
            return {}
        return {"DBBENCH_WEIGHTS": ",".join(f"{kind}:{share}" for kind, share in self.weights.items())}


def scenario_names() -> list[str]:
    return sorted(path.stem for path in paths.SCENARIOS_DIR.glob("*.toml"))


def load_scenario(name: str) -> Scenario:
    path = paths.SCENARIOS_DIR / f"{name}.toml"
    if not path.exists():
        raise DbbenchError(f"unknown scenario {name!r} (known: {', '.join(scenario_names())})")
    try:
        data = tomllib.loads(path.read_text())
        scenario = Scenario(
            name=data["name"], description=data["description"], script=path.with_name(data["script"]),
            connections=int(data["connections"]), threads=int(data["threads"]),
            slice_s=whole_or_fraction(float(data["slice_s"])),
            warmup_s=int(data["warmup_s"]), primer_s=int(data["primer_s"]),
            endpoints=tuple(data["endpoints"]), writes=bool(data.get("writes", False)),
            weights={kind: int(share) for kind, share in data["weights"].items()} if "weights" in data else None,
        )
    except (tomllib.TOMLDecodeError, KeyError, ValueError, TypeError, AttributeError) as exc:
        raise DbbenchError(f"scenario file {path.name} is invalid: {exc}") from None
    check_scenario(scenario, path)
    return scenario


def whole_or_fraction(seconds: float) -> int | float:
    """1 stays 1 (shown and stored as "1 s", as before), 0.5 stays 0.5."""
    return int(seconds) if seconds.is_integer() else seconds


def slice_problem(seconds: float) -> str | None:
    """What is wrong with a slice length, or None: the one rule for --slice and slice_s. From
    MIN_SLICE_S, because wrk stops on its 100 ms ticks and the runner spends about 0.1 s
    between slices, so shorter ones would be mostly overhead."""
    if MIN_SLICE_S <= seconds <= MAX_SLICE_S:  # also false for nan and inf
        return None
    return f"must be between {MIN_SLICE_S:g} s and an hour, not {seconds:g}"


def check_scenario(scenario: Scenario, path: Path) -> None:
    problems = [f"unknown endpoint {endpoint!r}" for endpoint in scenario.endpoints if endpoint not in ENDPOINTS]
    if (problem := slice_problem(scenario.slice_s)) is not None:
        problems.append(f"slice_s {problem}")
    if not scenario.endpoints:
        problems.append("no endpoints")
    if not scenario.script.exists():
        problems.append(f"no script {scenario.script.name}")
    if scenario.weights is not None:
        problems += [f"unknown request kind {kind!r}" for kind in scenario.weights if kind not in REQUEST_KINDS]
        if sum(scenario.weights.values()) != 100 or min(scenario.weights.values()) < 0:
            problems.append(f"weights must be shares that add up to 100, not {scenario.weights}")
    if "edit" in scenario.endpoints and not scenario.writes:
        problems.append("a scenario with edits must say writes = true")
    if problems:
        raise DbbenchError(f"scenario file {path.name} is invalid: {'; '.join(problems)}")
