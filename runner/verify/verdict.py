"""A cell's verdict: each check passed or failed with its reason, the statements it sent per
request by endpoint and weighted by the scenario's mix; and verify --json's file of verdicts."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from runner.base.errors import DbbenchError


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


@dataclass
class Verdict:
    checks: list[Check] = field(default_factory=list)
    statements_per_request: dict[str, float] = field(default_factory=dict)  # the scenario's, weighted
    by_endpoint: dict[str, dict[str, float]] = field(default_factory=dict)
    statements: list[dict] = field(default_factory=list)
    round_trip_ms: float | None = None  # p50 of sequential lookups, measured when a proxy adds latency
    statements_counted: str | None = None  # whose statements the counts are: the cell's role alone, or why not

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(check.ok for check in self.checks)

    @property
    def first_failure(self) -> str | None:
        return next((f"{c.name}: {c.detail}" for c in self.checks if not c.ok), None)

    def add(self, name: str, failures: list[str], passed: str) -> None:
        shown = "; ".join(failures[:3]) + (f" (+{len(failures) - 3} more)" if len(failures) > 3 else "")
        self.checks.append(Check(name, not failures, shown if failures else passed))

    def as_dict(self) -> dict:
        return {
            "ok": self.ok,
            "checks": [vars(check) for check in self.checks],
            "statements_per_request": self.statements_per_request,
            "statements_by_endpoint": self.by_endpoint,
            "statements": self.statements,
            "round_trip_ms": self.round_trip_ms,
            "statements_counted": self.statements_counted,
        }


class VerdictsFile:
    """verify --json: each cell's verdict written as soon as it is known (atomically), so an
    interrupted session keeps what it checked; written once before any cell starts, so a path
    that cannot be written is an error before anything runs."""

    def __init__(self, path: Path, document: dict):
        self.path, self.document = path, document
        self.write()

    def add(self, name: str, verdict: str, detail: str, found: Verdict | None = None) -> None:
        self.document["cells"][name] = {"verdict": verdict, "detail": detail, **(found.as_dict() if found else {})}
        self.write()

    def write(self) -> None:
        from runner.report import results

        try:
            results.write_json(self.document, self.path)
        except DbbenchError as exc:
            raise DbbenchError(f"--json: {exc}".removesuffix("; the last good results file is kept")) from None


def weighted(by_endpoint: dict[str, dict[str, float]], weights: dict[str, float] | None) -> dict[str, float]:
    """Statements per request of a scenario: its endpoints' figures, weighted by its mix."""
    if len(by_endpoint) == 1:
        return next(iter(by_endpoint.values()))
    if not weights:
        return {}
    total = sum(weights.get(endpoint, 0) for endpoint in by_endpoint) or 1
    kinds = {kind for figures in by_endpoint.values() for kind in figures}
    return {kind: round(sum(weights.get(endpoint, 0) * figures.get(kind, 0.0)
                            for endpoint, figures in by_endpoint.items()) / total, 3) for kind in sorted(kinds)}
