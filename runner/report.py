"""The report stage: the ranking matrix and its tables, rendered from a stored results file.

Nothing here measures anything; `dbbench report` renders any stored run again, and
`dbbench compare` sets two stored runs side by side.
"""

from __future__ import annotations

import csv
import io
import json

from runner import statistics
from runner.errors import DbbenchError

STRATEGY_ORDER = ("raw", "orm", "baked", "core")
STRATEGY_TITLES = {"raw": "raw SQL", "orm": "plain ORM", "baked": "cached/baked ORM", "core": "core"}
LATENCY_NOTE = (
    "Latency percentiles come from wrk, a closed-loop generator: at saturation each connection waits "
    "for its answer before sending again, so they understate the tail (coordinated omission). "
    "Read them as service times under this load, not as what an open-loop client would see."
)


def fmt_rps(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f}"


def cell_name(cell: dict) -> str:
    return f"{cell['framework']}/{cell['variant']}"


def estimate_of(cell: dict) -> statistics.Estimate | None:
    """From the raw rounds, as results.finalize derives the stored figures."""
    return statistics.estimate([r["rps"] for r in cell["rounds"]])


def half_width(cell: dict) -> str:
    ci = cell.get("rps_ci95")
    return f" ± {(ci[1] - ci[0]) / 2:,.0f}" if ci else " (1 round, no interval)"


def variant_columns(cells: list[dict]) -> list[str]:
    """Variants grouped by strategy (raw, plain ORM, cached/baked, core), first-seen order within."""
    seen: dict[str, str] = {}
    for cell in cells:
        seen.setdefault(cell["variant"], cell.get("strategy", "raw"))
    rank = {name: index for index, name in enumerate(STRATEGY_ORDER)}
    return sorted(seen, key=lambda v: (rank.get(seen[v], len(rank)), list(seen).index(v)))


def framework_rows(cells: list[dict]) -> list[str]:
    """Frameworks in first-seen order, the reference (Go) last."""
    names: list[str] = []
    for cell in cells:
        if cell["framework"] not in names:
            names.append(cell["framework"])
    reference = {c["framework"] for c in cells if c.get("reference")}
    return [n for n in names if n not in reference] + [n for n in names if n in reference]


def reference_cell(cells: list[dict]) -> dict | None:
    return next((c for c in cells if c.get("reference") and c["variant"] == "raw" and c.get("clean")), None)


def matrix_cell(cell: dict | None, reference: dict | None) -> str:
    if cell is None:
        return ""
    if cell["status"] != "ok":
        return f"**{cell['status']}**"
    if not cell["rounds"]:
        return "no rounds"
    text = fmt_rps(cell["rps_median"]) + half_width(cell)
    if reference and reference.get("rps_median"):
        text += f" ({cell['rps_median'] / reference['rps_median']:.0%} of {cell_name(reference)})"
    if cell.get("flags"):
        text += " " + " ".join(f"`{flag}`" for flag in cell["flags"])
    return text


def md_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def orm_tax_rows(cells: list[dict]) -> tuple[list[str], list[list[str]]]:
    by_key = {(c["framework"], c["variant"]): c for c in cells}
    variants = [v for v in variant_columns(cells) if v != "raw"]
    rows = []
    for framework in framework_rows(cells):
        raw = by_key.get((framework, "raw"))
        if not raw or not raw.get("clean"):
            continue
        row, any_ratio = [framework], False
        for variant in variants:
            other = by_key.get((framework, variant))
            if not other or not other.get("clean"):
                row.append("")
                continue
            any_ratio = True
            ratio = other["rps_median"] / raw["rps_median"]
            tie = not statistics.significant(estimate_of(other), estimate_of(raw))
            row.append(f"{ratio:.2f}" + (" (tie)" if tie else ""))
        if any_ratio:
            rows.append(row)
    return ["framework", *[f"{v} / raw" for v in variants]], rows


def render_markdown(document: dict) -> str:
    meta = document["metadata"]
    run = meta["run"]
    cells = document["cells"]
    reference = reference_cell(cells)
    dataset = meta["dataset"]
    pg = meta["postgres"]["settings"].get("server_version", "?")
    machine = meta["machine"]
    out = [
        f"# dbbench: {run['scenario']}, {run['connections']} connections, {run['rounds']} rounds of "
        f"{run['duration_s']} s, {run['server_cpus']} server CPU(s)",
        "",
        f"{'Complete' if document['complete'] else '**Incomplete** (still running, or interrupted)'} run "
        f"from {run['started_at']} "
        f"to {run.get('finished_at') or '—'}; commit {(meta['project'].get('git_commit') or '?')[:12]}"
        f"{' (dirty)' if meta['project'].get('git_dirty') else ''}; {dataset.get('users') or 0:,} users "
        f"(checksum {dataset.get('checksum')}); PostgreSQL {pg}; {meta['tools'].get('wrk')}; "
        f"{machine['cpu_count']} × {machine['cpu_model']}, kernel {machine['kernel']}.",
        f"CPU placement: {run['pinning']}.",
        "",
        "## Requests per second",
        "",
        "Median over rounds ± half-width of the 95% interval (Student t over per-round RPS), and the share "
        "of the reference. Columns grouped by strategy: "
        + ", ".join(f"{STRATEGY_TITLES.get(s, s)}" for s in STRATEGY_ORDER
                    if any(c.get("strategy") == s for c in cells)) + ".",
        "",
    ]
    by_key = {(c["framework"], c["variant"]): c for c in cells}
    variants = variant_columns(cells)
    strategy_of = {c["variant"]: c.get("strategy", "raw") for c in cells}
    header = ["framework", *[f"{v} ({STRATEGY_TITLES.get(strategy_of[v], strategy_of[v])})" for v in variants]]
    rows = []
    for framework in framework_rows(cells):
        sample = next(c for c in cells if c["framework"] == framework)
        label = framework + (" (reference)" if sample.get("reference") else "")
        label += " (sync)" if sample.get("kind") == "python-sync" else ""
        rows.append([label, *[matrix_cell(by_key.get((framework, v)), reference) for v in variants]])
    out += [md_table(header, rows), ""]
    out.append(
        "Flags: `errors` a measured round had socket errors or non-2xx answers (never ranked); "
        "`client-bound` wrk used ≥90% of its threads; `db-bound` PostgreSQL used ≥90% of the cores left "
        "to it; `noisy` coefficient of variation over rounds above 10%."
    )
    tax_header, tax_rows = orm_tax_rows(cells)
    if tax_rows:
        out += ["", "## ORM tax", "", "Median RPS of each variant over the same framework's raw "
                "variant; `(tie)` where the two intervals overlap.", "", md_table(tax_header, tax_rows)]
    ranked = sorted((c for c in cells if c.get("rank")), key=lambda c: (c["rank"], -c["rps_median"]))
    if ranked:
        counts: dict[int, int] = {}
        for c in ranked:
            counts[c["rank"]] = counts.get(c["rank"], 0) + 1
        rank_rows = [
            [f"{c['rank']}{'=' if counts[c['rank']] > 1 else ''}", cell_name(c), fmt_rps(c["rps_median"]),
             f"{c['rps_ci95'][0]:,.0f} – {c['rps_ci95'][1]:,.0f}" if c.get("rps_ci95") else "—"]
            for c in ranked
        ]
        out += ["", "## Ranking", "", "By median RPS. Cells whose 95% intervals overlap their group "
                "leader's share its rank (`=`): the data cannot tell them apart.", "",
                md_table(["rank", "cell", "median RPS", "95% interval"], rank_rows)]
    detail_rows = []
    for c in cells:
        spr = ", ".join(f"{k} {v:g}" for k, v in (c.get("statements_per_request") or {}).items()) or "—"
        lat = c.get("latency_ms") or {}
        cpu = c.get("cpu_cores") or {}
        detail_rows.append([
            cell_name(c), c["status"], str(c["pool_size"]), str(c.get("workers", c["server_cpus"])), spr,
            " / ".join(f"{lat[k]:.1f}" if k in lat else "—" for k in ("p50", "p90", "p99")),
            " / ".join("—" if cpu.get(k) is None else f"{cpu[k]:.2f}" for k in ("server", "wrk", "postgres")),
            f"{c['rps_cv']:.1%}" if c.get("rps_cv") is not None else "—",
            str(sum(r["errors"] + r["non_2xx"] for r in c["rounds"])),
        ])
    out += ["", "## Cells", "", md_table(
        ["cell", "status", "pool/worker", "workers", "statements per request", "latency p50/p90/p99 ms",
         "CPU cores server/wrk/PG", "CV", "errors"], detail_rows), "", LATENCY_NOTE]
    problems = [f"- {cell_name(c)}: {c['status']}: {c['reason']}" for c in cells if c.get("reason")]
    if problems:
        out += ["", "## Failed or skipped", "", *problems]
    return "\n".join(out) + "\n"


CSV_FIELDS = ("framework", "variant", "strategy", "scenario", "status", "rank", "rps_median", "rps_ci95_low",
              "rps_ci95_high", "rps_cv", "rounds", "pool_size", "server_cpus", "p50_ms", "p90_ms", "p99_ms",
              "errors", "flags", "reason")


def render_csv(document: dict) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for c in document["cells"]:
        ci = c.get("rps_ci95") or [None, None]
        lat = c.get("latency_ms") or {}
        writer.writerow({
            "framework": c["framework"], "variant": c["variant"], "strategy": c.get("strategy"),
            "scenario": c["scenario"], "status": c["status"], "rank": c.get("rank"),
            "rps_median": c.get("rps_median"), "rps_ci95_low": ci[0], "rps_ci95_high": ci[1],
            "rps_cv": c.get("rps_cv"), "rounds": len(c["rounds"]), "pool_size": c["pool_size"],
            "server_cpus": c["server_cpus"], "p50_ms": lat.get("p50"), "p90_ms": lat.get("p90"),
            "p99_ms": lat.get("p99"), "errors": sum(r["errors"] + r["non_2xx"] for r in c["rounds"]),
            "flags": " ".join(c.get("flags") or []), "reason": c.get("reason") or "",
        })
    return buffer.getvalue()


def render(document: dict, fmt: str) -> str:
    if fmt == "md":
        return render_markdown(document)
    if fmt == "csv":
        return render_csv(document)
    if fmt == "json":
        return json.dumps(document, indent=2) + "\n"
    raise DbbenchError(f"unknown format {fmt!r}: md, csv or json")


def comparable(a: dict, b: dict) -> list[str]:
    """Why two runs should not be compared: different machine or data set."""
    reasons = []
    for key in ("hostname", "cpu_model", "cpu_count"):
        if a["metadata"]["machine"].get(key) != b["metadata"]["machine"].get(key):
            reasons.append(f"machine {key} differs ({a['metadata']['machine'].get(key)} vs "
                           f"{b['metadata']['machine'].get(key)})")
    for key in ("users", "checksum"):
        if a["metadata"]["dataset"].get(key) != b["metadata"]["dataset"].get(key):
            reasons.append(f"data set {key} differs")
    return reasons


def compare(a: dict, b: dict, force: bool = False) -> str:
    reasons = comparable(a, b)
    if reasons and not force:
        raise DbbenchError("refusing to compare: " + "; ".join(reasons) + " (--force to compare anyway)")
    before = {(c["framework"], c["variant"], c["scenario"]): c for c in a["cells"]}
    rows = []
    for cell in b["cells"]:
        old = before.get((cell["framework"], cell["variant"], cell["scenario"]))
        if old is None:
            continue
        old_est, new_est = estimate_of(old), estimate_of(cell)
        if old_est is None or new_est is None or not old.get("clean") or not cell.get("clean"):
            rows.append([cell_name(cell), fmt_rps(old.get("rps_median")), fmt_rps(cell.get("rps_median")),
                         "—", "not comparable (failed, errors or no rounds)"])
            continue
        change = new_est.median / old_est.median - 1
        if statistics.significant(old_est, new_est):
            verdict = "faster" if change > 0 else "slower"
        else:
            verdict = "no significant change (intervals overlap)"
        rows.append([cell_name(cell), fmt_rps(old_est.median), fmt_rps(new_est.median), f"{change:+.1%}", verdict])
    if not rows:
        raise DbbenchError("the two runs have no cell in common")
    header = ["cell", f"A ({a['metadata']['run']['started_at']})", f"B ({b['metadata']['run']['started_at']})",
              "change", "verdict"]
    warning = f"\nCompared despite: {'; '.join(reasons)}.\n" if reasons else ""
    return md_table(header, rows) + "\n" + warning
