"""How a figure is written in every table and page: throughput, intervals, ratios with their
ties, latency percentiles (a left-out one is —, with the reason), statements per request; a
Markdown table, and a Section of a report."""

from __future__ import annotations

from dataclasses import dataclass, field

from runner.report import results, stats


def fmt_rps(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f}"


def fmt_percentile(latency: dict | None, key: str, digits: int = 1) -> str:
    """A latency percentile, or — where it was left out (its slices too short for it): never a 0."""
    value = (latency or {}).get(key)
    return "—" if value is None else f"{value:,.{digits}f}"


def left_out_percentiles(labelled: list[tuple[str, dict]], keys: tuple[str, ...]) -> list[str]:
    """Why a percentile's column shows —, naming each (label, cell) with a percentile left out and
    what a slice needs for it; nothing where every percentile shown was measured."""
    missing = [(label, cell, [key for key in keys if key not in cell["latency_ms"]])
               for label, cell in labelled if cell.get("latency_ms")]
    held = "; ".join(f"{label}: {', '.join(absent)}"
                     + (f" (median slice {requests:,.0f} requests)" if (requests := median_requests(cell)) is not None
                        else "") for label, cell, absent in missing if absent)
    if not held:
        return []
    left_out = [key for key in keys if any(key in absent for _, _, absent in missing)]
    needs = ", ".join(f"a {key} {stats.requests_for(key):,}" for key in left_out)
    return [f"— in a percentile's column: not measured. The slices held too few requests for it (a slice needs, "
            f"for {needs}), so it is left out rather than shown as a figure: {held}."]


def median_requests(cell: dict) -> float | None:
    return stats.median([s["requests"] for s in results.used_slices(cell)]) if cell.get("slices") else None


def cell_name(cell: dict) -> str:
    return cell.get("name") or f"{cell['framework']}/{cell['variant']}"


def fmt_interval(ci: list[float] | None, digits: int = 0, missing: str = "") -> str:
    """ [low–high] after the figure it belongs to, or what stands in for it."""
    return f" [{ci[0]:,.{digits}f}–{ci[1]:,.{digits}f}]" if ci else missing


def rps_interval(cell: dict) -> str:
    """The median's own interval; where too few slices give none at 95%, that is said."""
    return fmt_interval(cell.get("rps_ci95"), missing=f" ({stats.interval_note(cell.get('slices_used') or 0)})")


def fmt_ratio(found: dict, percent: bool = False, digits: int = 2, ties: bool = True) -> str:
    """0.52 [0.50–0.54], or 52% [50–54%]; with (tie) where the interval contains 1, unless `ties`
    is off (a ratio judged against another bar than 1)."""
    if found.get("ratio") is None:
        return "—"
    value, ci = found["ratio"], found.get("ci95")
    if percent:
        text = f"{value:.0%}" + (f" [{ci[0]:.0%}–{ci[1]:.0%}]" if ci else "")
    else:
        text = f"{value:.{digits}f}" + (f" [{ci[0]:.{digits}f}–{ci[1]:.{digits}f}]" if ci else "")
    return text + (" (tie)" if ties and found.get("tie") else "")


def comparisons_of(document: dict, kind: str) -> dict[str, dict]:
    """The run's stored ratios of one kind, by the cell on top (a)."""
    return {c["a"]: c for c in document.get("summary", {}).get("comparisons", []) if c["kind"] == kind}


def md_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


@dataclass
class Section:
    """One part of the report: a heading, text, a table and a list. The Markdown and the HTML
    page render the same sections (the page adds its figures to them)."""

    key: str
    title: str
    before: list[str] = field(default_factory=list)
    header: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    after: list[str] = field(default_factory=list)
    items: list[str] = field(default_factory=list)


def fmt_us(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f}"


def fmt_latency(found: dict | None) -> str:
    """A percentile's median over slices, with its interval [low–high] where the slices give one."""
    if not found:
        return "—"
    return f"{found['median']:,.2f}" + fmt_interval(found.get("ci95"), digits=2)


def spr_text(cell: dict) -> str:
    return ", ".join(f"{k} {v:g}" for k, v in (cell.get("statements_per_request") or {}).items()) or "—"


def listed(items: list[str]) -> str:
    """a, b and c."""
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def commit_text(project: dict, length: int = 7) -> str:
    """The commit a run measured, shortened, and whether it had uncommitted changes."""
    return (project.get("git_commit") or "?")[:length] + (" (with uncommitted changes)" if project.get("git_dirty")
                                                           else "")
