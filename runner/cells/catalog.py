"""The cells stage: what can run (apps/cells.toml), how each cell is started and stopped.

A cell is one framework with one data-access variant. Its process runs in its own
session (process group), so stopping it stops every worker it forked, and nothing else;
it dies with the CLI that started it, however the CLI ends (runner/base/supervise.py)."""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field
from functools import cache

from runner.base import paths
from runner.base.errors import DbbenchError
from runner.base.scenarios import RELATION_ENDPOINTS

MANIFEST = paths.APPS_DIR / "cells.toml"
POOL_HEADROOM = 0.125
MIN_POOL_HEADROOM = 4


@dataclass(frozen=True)
class Framework:
    name: str
    kind: str
    server: str
    variants: tuple[str, ...]
    malformed: int
    default: bool = False
    reference: bool = False
    stack: str | None = None
    settings: dict = field(default_factory=dict)  # driver settings its server needs (prepare_threshold)
    legacy: str | None = None  # why it is kept although unmaintained
    note: str | None = None  # what its figures include that others' do not (the report says it)
    pooler: dict | str | None = None  # behind a transaction pooler, in place of its variants' `pooler`


@dataclass(frozen=True)
class Variant:
    name: str
    strategy: str
    summary: str
    stack: str | None = None
    default: bool = False
    # The lookups per request it promises for each relationship endpoint it serves (the
    # verifier holds it to them); a variant without them does not serve those endpoints.
    relations: dict[str, int | str] = field(default_factory=dict)
    relations_only: bool = False  # elsewhere the same code as another variant: not measured there
    settings: dict = field(default_factory=dict)  # driver settings set on purpose and recorded (prepare_threshold)
    legacy: str | None = None  # why it is kept although unmaintained
    # Behind a transaction pooler: the settings its driver's documentation asks for there, or why
    # it cannot run there; None: nothing declared, so it is not run there.
    pooler: dict | str | None = None


@dataclass(frozen=True)
class Cell:
    framework: Framework
    variant: Variant

    @property
    def name(self) -> str:
        return f"{self.framework.name}/{self.variant.name}"

    @property
    def is_python(self) -> bool:
        return self.framework.kind.startswith("python")

    def processes(self, server_cpus: int) -> int:
        """Python servers get one worker process per CPU; Go gets GOMAXPROCS in one process."""
        return server_cpus if self.is_python else 1

    @property
    def settings(self) -> dict:
        """The driver settings it runs with: the variant's, and its framework's over them."""
        return {**self.variant.settings, **self.framework.settings}

    def settings_for(self, pooler: str | None) -> dict | str:
        """Its settings, and behind a transaction pooler (`pooler`) those its drivers ask for there
        over them (the framework's `pooler`, where it declares one, in place of the variant's: a
        framework with code of its own, Flask's, Django's or Gin's, has drivers of its own); or
        why it cannot run behind one, in words, where either says so."""
        if pooler is None:
            return self.settings
        for declared in (self.variant.pooler, self.framework.pooler):
            if isinstance(declared, str):
                return declared
        declared = self.framework.pooler if self.framework.pooler is not None else self.variant.pooler
        if declared is None:
            return f"{self.name} declares no settings for a transaction pooler (apps/cells.toml, `pooler`)"
        return {**self.settings, **declared}

    @property
    def legacy(self) -> str | None:
        """Why it is kept although part of it is unmaintained, or None."""
        return self.variant.legacy or self.framework.legacy

    @property
    def stack(self) -> str | None:
        """The environment it runs in: the framework's own stack, else the variant's."""
        return self.framework.stack or self.variant.stack

    def unserved(self, endpoints) -> str | None:
        """Why it cannot serve these endpoints, or None: a relationship endpoint its variant has
        no promise for (apps/cells.toml)."""
        missing = [e for e in endpoints if e in RELATION_ENDPOINTS and e not in self.variant.relations]
        return (f"variant {self.variant.name} does not serve {', '.join(missing)} (not implemented for it yet)"
                if missing else None)

    def redundant(self, endpoints) -> str | None:
        """Why measuring it here would measure another variant's code again, or None."""
        if self.variant.relations_only and not any(e in RELATION_ENDPOINTS for e in endpoints):
            return (f"{self.variant.name} differs from its base variant only in how it loads relationships: "
                    f"measured on {' and '.join(RELATION_ENDPOINTS)} only")
        return None


@dataclass(frozen=True)
class Manifest:
    frameworks: dict[str, Framework]
    variants: dict[str, Variant]
    stacks: dict[str, dict]

    def cells(self) -> list[Cell]:
        return [
            Cell(framework, self.variants[variant])
            for framework in self.frameworks.values()
            for variant in framework.variants
        ]

    def cell(self, framework: str, variant: str) -> Cell:
        if framework not in self.frameworks:
            raise DbbenchError(f"unknown framework {framework!r} (known: {', '.join(self.frameworks)})")
        if variant not in self.frameworks[framework].variants:
            known = ", ".join(self.frameworks[framework].variants)
            raise DbbenchError(f"{framework} has no variant {variant!r} (it has: {known})")
        return Cell(self.frameworks[framework], self.variants[variant])

    def select(self, frameworks: list[str] | None, variants: list[str] | None, everything: bool) -> list[Cell]:
        """The cells named by --frameworks/--variants; by default the default cells, with
        `everything` every cell."""
        for name in frameworks or ():
            if name not in self.frameworks:
                raise DbbenchError(f"unknown framework {name!r} (known: {', '.join(self.frameworks)})")
        for name in variants or ():
            if name not in self.variants:
                raise DbbenchError(f"unknown variant {name!r} (known: {', '.join(self.variants)})")
        chosen = [
            cell for cell in self.cells()
            if (cell.framework.name in frameworks if frameworks else everything or cell.framework.default)
            and (cell.variant.name in variants if variants else everything or frameworks or cell.variant.default)
        ]
        if not chosen:
            raise DbbenchError("no cell matches the selected frameworks and variants")
        return chosen


@cache
def manifest() -> Manifest:
    data = tomllib.loads(MANIFEST.read_text())
    variants = {
        name: Variant(name=name, strategy=v["strategy"], summary=v["summary"], stack=v.get("stack"),
                      default=v.get("default", False), relations=dict(v.get("relations", {})),
                      relations_only=v.get("relations-only", False), settings=dict(v.get("settings", {})),
                      legacy=v.get("legacy"), pooler=v.get("pooler"))
        for name, v in data["variants"].items()
    }
    frameworks = {
        name: Framework(
            name=name, kind=f["kind"], server=f["server"], variants=tuple(f["variants"]),
            malformed=f["malformed"], default=f.get("default", False), reference=f.get("reference", False),
            stack=f.get("stack"), settings=dict(f.get("settings", {})), legacy=f.get("legacy"), note=f.get("note"),
            pooler=f.get("pooler"),
        )
        for name, f in data["frameworks"].items()
    }
    return Manifest(frameworks=frameworks, variants=variants, stacks=data["stacks"])


def pool_size_for(connections: int, workers: int) -> int:
    """Each worker's pool: its share of wrk's connections plus headroom.

    A pool smaller than the connections in flight would queue requests on the pool and
    measure that queue, not the framework.
    """
    share = math.ceil(connections / workers)
    return share + max(MIN_POOL_HEADROOM, math.ceil(share * POOL_HEADROOM))
