"""Presets (apps/presets.toml): a named selection of cells for one question, and the paired
prices its report shows. Checked when loaded, so a misspelt cell is a one-line error."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache

from runner.base import paths
from runner.base.errors import DbbenchError
from runner.cells.catalog import manifest

PRESETS_FILE = paths.APPS_DIR / "presets.toml"


@dataclass(frozen=True)
class Price:
    choice: str  # the kind of choice: driver, ORM, server, ...
    question: str
    a: str  # the cell chosen
    b: str  # the cell it replaces

    def as_dict(self) -> dict:
        return {"choice": self.choice, "question": self.question, "a": self.a, "b": self.b}


@dataclass(frozen=True)
class Preset:
    name: str
    summary: str
    cells: tuple[str, ...]
    prices: tuple[Price, ...]
    tune: bool

    @property
    def frameworks(self) -> list[str]:
        return sorted({name.split("/")[0] for name in self.cells})

    @property
    def variants(self) -> list[str]:
        return sorted({name.split("/")[1] for name in self.cells})


def _cell_name(name: str, where: str) -> str:
    framework, _, variant = name.partition("/")
    try:
        manifest().cell(framework, variant)
    except DbbenchError as error:
        raise DbbenchError(f"{PRESETS_FILE.name}: {where} names {name!r}: {error}") from None
    return name


@cache
def presets() -> dict[str, Preset]:
    found = {}
    for name, table in tomllib.loads(PRESETS_FILE.read_text()).get("presets", {}).items():
        cells = tuple(_cell_name(cell, f"preset {name}") for cell in table["cells"])
        prices = tuple(Price(p["choice"], p["question"], p["a"], p["b"]) for p in table.get("prices", []))
        for price in prices:
            for side in (price.a, price.b):
                if side not in cells:
                    raise DbbenchError(f"{PRESETS_FILE.name}: preset {name}'s price {price.question!r} names "
                                       f"{side}, which is not one of its cells")
        found[name] = Preset(name, table["summary"], cells, prices, table.get("tune", True))
    return found


def selection(name: str | None, frameworks: list[str] | None, variants: list[str] | None,
              everything: bool) -> dict:
    """RunOptions' choice of cells: a preset's, or the flags'; never both."""
    if name is None:
        return {"frameworks": frameworks, "variants": variants, "everything": everything}
    if frameworks or variants or everything:
        raise DbbenchError("--preset names its cells: it cannot go with --frameworks, --variants or --all")
    chosen = preset(name)
    return {"frameworks": chosen.frameworks, "variants": chosen.variants, "everything": True,
            "only": list(chosen.cells), "preset": name}


def preset(name: str) -> Preset:
    known = presets()
    if name not in known:
        raise DbbenchError(f"unknown preset {name!r} (known: {', '.join(known) or 'none'})")
    return known[name]
