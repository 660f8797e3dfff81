"""What the lessons share to read their runs: estimates from a cell's used slices, paired ratios
and their verdicts, the best point of a sweep, and the swept axis of a figure."""

from __future__ import annotations

from runner.base.errors import DbbenchError
from runner.experiments import sweep
from runner.report import figures, formatting, results, stats


def fmt_estimate(found: stats.Estimate | None, scale: float = 1.0, digits: int = 0) -> str:
    """median [low–high], or where too few slices give no 95% interval, the median and their count."""
    if found is None:
        raise DbbenchError("a number the lesson needs has no data")
    shown = f"{found.median * scale:,.{digits}f}"
    if found.ci95 is None:
        return f"{shown} [n = {found.n}: no 95% interval]"
    return f"{shown} [{found.ci95[0] * scale:,.{digits}f}–{found.ci95[1] * scale:,.{digits}f}]"


def per_slice(cell: dict, party: str) -> stats.Estimate | None:
    """A party's CPU µs per request, slice by slice, as an estimate with its interval."""
    values = [piece["cpu_seconds"][party] / piece["requests"] * 1e6 for piece in results.used_slices(cell)
              if piece["requests"] and piece["cpu_seconds"].get(party) is not None]
    return stats.estimate(values)


def placeholder_of(name: str) -> str:
    """fastapi/sa-orm -> fastapi_sa_orm: a cell's name as a page's $placeholder can hold it."""
    return name.replace("/", "_").replace("-", "_")


def part_of(document: dict, label: str) -> dict:
    """One of a lesson's several sweeps, by its label."""
    for entry in document.get("sweeps", []):
        if entry.get("label") == label:
            return entry
    raise DbbenchError(f"the lesson's results hold no sweep {label!r}: measure the lesson again")


def ratio_between(comparison: stats.BlockedComparison, a: str, b: str) -> dict | None:
    """a's throughput over b's, paired within rounds, as the report's comparisons hold it."""
    found = comparison.ratio(a, b)
    return None if found is None else found.as_dict()


def median_of(cell: dict, field: str) -> float | None:
    return stats.median([piece[field] for piece in results.used_slices(cell) if piece.get(field) is not None])


def ratio_panel(axes, points: list[tuple[int, dict]], ratios: dict[str, dict], colour: str, marker: str,
                label: str) -> None:
    """A cell's points as paired ratios to its best point, each with its interval's whisker."""
    shares = [(value, ratios.get(cell["name"])) for value, cell in points]
    axes.plot([value for value, _ in shares], [found["ratio"] if found else 1.0 for _, found in shares],
              marker=marker, color=colour, label=label)
    for value, found in shares:
        if found and found.get("ci95"):
            figures.whisker_vertical(axes, value, found["ratio"], found["ci95"], colour)
    axes.axhline(1.0, color="#888888", linewidth=0.8)
    axes.yaxis.set_major_formatter(figures.FuncFormatter(lambda share, _: f"{share:.0%}"))


def paired_ratios(found: dict, lesson_name: str) -> dict[str, dict]:
    """A paired sweep's ratios of each point to its cell's best point, by instance name; a sweep
    measured one point after the other has none, and the lesson's text needs them."""
    if not sweep.is_paired(found):
        raise DbbenchError(f"lesson {lesson_name}: its results were measured one point after the other; "
                           f"run `make lesson-{lesson_name}` to measure them paired")
    return sweep.point_ratios(found)


def best_point(cell_name: str, points: list[tuple[int, dict]]) -> tuple[int, dict]:
    """The point a series' ratios are taken to: the clean point with the highest median, by the
    definition the run's own comparisons use (results.best_points)."""
    references = set(results.best_points([cell for _, cell in points if cell.get("clean")]).values())
    found = next(((value, cell) for value, cell in points if cell["name"] in references), None)
    if found is None:
        raise DbbenchError(f"no point of {cell_name} was measured cleanly: nothing to take its ratios to")
    return found


def share_text(cell: dict, ratios: dict[str, dict]) -> str:
    """A point's throughput over its cell's best point: 93% [88–98%], or "the best"."""
    if not cell.get("clean"):
        return "not measured cleanly"
    found = ratios.get(cell["name"])
    return "the best" if found is None else formatting.fmt_ratio(found, percent=True).removesuffix(" (tie)")


def verdict(cell: dict, ratios: dict[str, dict]) -> str:
    """What a point's paired ratio to its cell's best point says, in words: the words of
    level_with_best and below_best, so that the text and the knee cannot disagree."""
    if not cell.get("clean"):
        return f"not measured cleanly ({cell.get('status', 'failed')})"
    if cell["name"] not in ratios:
        return "the best"
    if level_with_best(cell, ratios):
        return "cannot be told from the best"
    if below_best(cell, ratios):
        return "below the best"
    return "no interval (too few rounds shared with the best)"


def level_with_best(cell: dict, ratios: dict[str, dict]) -> bool:
    """The best point itself, or one whose interval of the ratio to it holds 1."""
    found = ratios.get(cell["name"])
    return bool(cell.get("clean")) and (found is None or (found.get("ci95") is not None and found["tie"]))


def below_best(cell: dict, ratios: dict[str, dict]) -> bool:
    """A point whose whole interval of the ratio to its cell's best lies under 1."""
    found = ratios.get(cell["name"])
    return bool(cell.get("clean")) and found is not None and found.get("ci95") is not None and not found["tie"]


def widest(ratios: dict[str, dict]) -> str:
    """The widest half-width of a sweep's paired ratios, as ±%."""
    widths = [found["half_width"] for found in ratios.values() if found.get("half_width") is not None]
    return f"±{max(widths):.1%}" if widths else "no interval"


def blocked(document: dict) -> stats.BlockedComparison:
    """Every clean cell's slices by (group, round), for ratios between any two of them."""
    return stats.BlockedComparison(results.blocks_of(document["cells"]))


def fmt_ratio_of(found: stats.Ratio) -> str:
    return formatting.fmt_ratio(found.as_dict())


def sweeps_of(document: dict) -> list[dict]:
    return [entry["sweep"] for entry in document["sweeps"]] if document.get("kind") == "sweeps" else [document]


def runs_in(document: dict) -> list[dict]:
    """Every run's results document the lesson's file holds, in the order they ran."""
    if document.get("kind") == "runs":
        return document["runs"]
    if document.get("kind") in ("sweep", "sweeps"):
        return [found_run for found in sweeps_of(document) for found_run in sweep.runs(found)]
    return [document]


def first_run(document: dict) -> dict:
    """The results document whose metadata stands for the lesson's experiment."""
    return runs_in(document)[0]


POOL_RESET_STATEMENTS = 4  # asyncpg's reset: four statements in one string, one round trip


def in_flight(cell: dict) -> int:
    """Requests that can wait on PostgreSQL at once: wrk's connections, or the pool where smaller."""
    return min(cell["connections"], cell["pool_size"] * cell.get("workers", 1))


def round_trips(statements: dict[str, float]) -> float:
    """Statements a request waits for one after the other: each lookup, update and transaction
    statement is one round trip; asyncpg's four-statement reset is one more per checkout."""
    sequential = sum(statements.get(kind, 0.0) for kind in ("lookup", "update", "transaction", "session setup"))
    return sequential + statements.get("pool reset", 0.0) / POOL_RESET_STATEMENTS
