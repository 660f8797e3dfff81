"""The report stage: the ranking matrix and its tables, rendered from a stored results file.

Nothing here measures anything; `dbbench report` renders any stored run again, and
`dbbench compare` sets two stored runs side by side."""

from __future__ import annotations

import csv
import io
import json

from runner.base.errors import DbbenchError
from runner.report import instructions, prices, profiles, results, stats
from runner.report.about import MIX_LATENCY_NOTE, facts, title_of
from runner.report.formatting import (
    Section,
    cell_name,
    comparisons_of,
    fmt_latency,
    fmt_percentile,
    fmt_ratio,
    fmt_rps,
    fmt_us,
    left_out_percentiles,
    md_table,
    rps_interval,
    spr_text,
)

STRATEGY_ORDER = ("raw", "orm", "baked", "core")
STRATEGY_TITLES = {"raw": "raw SQL", "orm": "plain ORM", "baked": "cached/baked ORM", "core": "core"}
LATENCY_NOTE = (
    "Latency percentiles come from wrk, a closed-loop generator: at saturation each connection waits "
    "for its answer before sending again, so they understate the tail (coordinated omission). "
    "Read them as service times under this load, not as what an open-loop client would see."
)
RANKING_NOTE = (
    "By blocked throughput (the geometric mean of within-round ratios; within a tie the median RPS may be "
    "out of that order). A cell has a rank of its own when the 95% interval of its ratio to the cell above, "
    "and to the first cell of that rank, both exclude 1; otherwise it shares the rank (`=`): the data cannot "
    "tell them apart."
)


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


def shows_figures(cell: dict | None) -> bool:
    """A matrix cell that gives figures: it ran, and slices were kept."""
    return cell is not None and cell["status"] == "ok" and bool(cell["slices"])


def matrix_cell(cell: dict | None, shares: dict[str, dict], document: dict) -> str:
    if cell is None:
        return ""
    if not shows_figures(cell):
        return f"**{cell['status']}**" if cell["status"] != "ok" else "no slices"
    text = fmt_rps(cell["rps_median"]) + rps_interval(cell)
    share = shares.get(cell_name(cell))
    if share:
        text += f" ({fmt_ratio(share, percent=True)} of {share['b']})"
    text += instructions.matrix_text(document, cell)
    if cell.get("flags"):
        text += " " + " ".join(f"`{flag}`" for flag in cell["flags"])
    return text


def orm_tax_rows(document: dict) -> tuple[list[str], list[list[str]]]:
    cells = document["cells"]
    taxes = comparisons_of(document, "orm-tax")
    by_key = {(c["framework"], c["variant"]): c for c in cells}
    variants = [v for v in variant_columns(cells) if v != "raw"]
    def tax(framework: str, variant: str) -> str:
        cell = by_key.get((framework, variant))
        found = taxes.get(cell_name(cell)) if cell else None
        return fmt_ratio(found) if found else ""

    rows = []
    for framework in framework_rows(cells):
        row = [framework, *[tax(framework, variant) for variant in variants]]
        if any(row[1:]):
            rows.append(row)
    return ["framework", *[f"{v} / raw" for v in variants]], rows


FLAGS_NOTE = (
    "Flags: `errors` a slice the figures use had socket errors or non-2xx answers (never ranked); "
    "`client-bound` wrk used ≥90% of its threads; `db-bound` PostgreSQL used ≥90% of the cores left "
    "to it; `noisy` coefficient of variation over slices above 10% (the ratios are blocked and are not "
    "affected by what moves all cells together); `db-outage` some slices were measured while PostgreSQL "
    "did not answer (left out of every figure)."
)


def matrix_section(document: dict) -> Section:
    cells = document["cells"]
    shares = comparisons_of(document, "reference")
    by_key = {(c["framework"], c["variant"]): c for c in cells}
    variants = variant_columns(cells)
    strategy_of = {c["variant"]: c.get("strategy", "raw") for c in cells}
    rows = []
    for framework in framework_rows(cells):
        sample = next(c for c in cells if c["framework"] == framework)
        label = framework + (" (reference)" if sample.get("reference") else "")
        label += " (sync)" if sample.get("kind") == "python-sync" else ""
        rows.append([label, *[matrix_cell(by_key.get((framework, v)), shares, document) for v in variants]])
    present = {c.get("strategy") for c in cells}
    strategies = ", ".join(STRATEGY_TITLES.get(s, s) for s in STRATEGY_ORDER if s in present)
    return Section(
        "throughput", "Requests per second",
        before=["Median over slices [its 95% interval, from order statistics: distribution-free, so it always "
                "holds the median], and the share of the reference with its 95% interval (blocked: the geometric "
                "mean of within-round ratios, Student t on the log ratios). "
                f"Columns grouped by strategy: {strategies}."],
        header=["framework", *[f"{v} ({STRATEGY_TITLES.get(strategy_of[v], strategy_of[v])})" for v in variants]],
        rows=rows, after=[FLAGS_NOTE, *([instructions.MATRIX_NOTE] if any(
            shows_figures(cell) and instructions.matrix_text(document, cell) for cell in cells) else [])])


def orm_tax_section(document: dict) -> Section | None:
    header, rows = orm_tax_rows(document)
    if not rows:
        return None
    return Section("orm-tax", f"ORM tax ({document['metadata']['run']['scenario']})",
                   before=["Each variant's throughput over the same framework's raw variant: the geometric mean of "
                           "within-round ratios, with its 95% interval; `(tie)` where it contains 1."],
                   header=header, rows=rows)


def mix_section(document: dict) -> Section | None:
    """The shares each kind really had, over the slices the figures use, beside the declared ones."""
    run = document["metadata"]["run"]
    if not run.get("weights"):
        return None
    sent: dict[str, int] = {}
    statuses: dict[str, int] = {}
    for cell in document["cells"]:
        for piece in results.used_slices(cell):
            for kind, count in (piece.get("sent") or {}).items():
                sent[kind] = sent.get(kind, 0) + count
            for status, count in (piece.get("statuses") or {}).items():
                statuses[status] = statuses.get(status, 0) + count
    total = sum(sent.values())
    if not total:
        return None
    rows = [[kind, f"{share}%", f"{sent.get(kind, 0) / total:.1%}", f"{sent.get(kind, 0):,}"]
            for kind, share in run["weights"].items()]
    answered = ", ".join(f"{status}: {count:,}" for status, count in sorted(statuses.items()))
    return Section("mix", "The mix", before=[
        "Requests sent by kind over the slices the figures use, all cells together; "
        f"answers by status: {answered}. 404s up to the number of unknown-user requests are expected "
        "answers; any other status counts as an error."],
        header=["kind", "declared", "sent", "requests"], rows=rows, after=[MIX_LATENCY_NOTE])


OPEN_LOOP_NOTE = (
    "Latency is measured from each request's intended send time, so a request that waited behind a slow "
    "answer (or for a free connection) is charged for the wait; `service p99` is the same requests timed from "
    "their actual send, what a closed-loop tool reports. Each percentile is the median over slices with "
    f"that median's 95% interval [low–high], which needs {stats.MEDIAN_MIN_SLICES} slices or more. A cell "
    "that did not achieve 98% of its rate in every slice is marked `not held`: its latencies are those of an "
    "overloaded server, not of the rate asked for. `client-bound`: the generator used ≥90% of its threads, so "
    "the figures may describe oha, not the cell."
)


def open_loop_latencies(cell: dict) -> list[str]:
    """p50, p90, p99 and p99.9 at a constant rate; none where the generator was the bottleneck,
    since those numbers would describe oha, not the cell."""
    if "client-bound" in (cell.get("flags") or []):
        return ["client-bound"] * 4
    latency = cell["open_loop"]["latency_ms"]
    return [fmt_latency(latency.get(key)) for key in ("p50", "p90", "p99", "p99.9")]


def open_loop_section(document: dict) -> Section | None:
    rows = []
    for c in document["cells"]:
        found = c.get("open_loop")
        if not found:
            continue
        held = "held" if found["held"] else f"**not held** ({found['slices_not_held']} slice(s))"
        rows.append([cell_name(c), f"{found['target_rps']:,.0f}", f"{found['achieved_rps']:,.0f}", held,
                     *open_loop_latencies(c),
                     "—" if found["service_p99_ms"] is None else f"{found['service_p99_ms']:,.2f}",
                     "—" if found["late_share"] is None else f"{found['late_share']:.1%}",
                     " ".join(f"`{flag}`" for flag in c.get("flags") or []) or "—"])
    if not rows:
        return None
    return Section("open-loop", "Latency at a constant rate", before=[OPEN_LOOP_NOTE], rows=rows, header=[
        "cell", "target RPS", "achieved RPS", "rate", "p50 ms", "p90 ms", "p99 ms", "p99.9 ms", "service p99 ms",
        f"sent late (>{openloop_late_ms(document):g} ms)", "flags"])


def openloop_late_ms(document: dict) -> float:
    return (document["metadata"]["run"].get("open_loop") or {}).get("late_ms", 10.0)


def ranking_section(document: dict) -> Section | None:
    cells = document["cells"]
    position = {name: index for index, name in enumerate(document.get("summary", {}).get("ranking", []))}
    ranked = sorted((c for c in cells if c.get("rank")), key=lambda c: (c["rank"], position.get(cell_name(c), 0)))
    if not ranked:
        return None
    counts: dict[int, int] = {}
    for c in ranked:
        counts[c["rank"]] = counts.get(c["rank"], 0) + 1
    next_ratio = comparisons_of(document, "ranking")
    rows = [
        [f"{c['rank']}{'=' if counts[c['rank']] > 1 else ''}", cell_name(c), fmt_rps(c["rps_median"]),
         f"{c['rps_ci95'][0]:,.0f} – {c['rps_ci95'][1]:,.0f}" if c.get("rps_ci95") else "—",
         fmt_ratio(next_ratio[cell_name(c)]) if cell_name(c) in next_ratio else "—",
         *[fmt_us((c.get("cpu_us_per_request") or {}).get(party)) for party in ("server", "postgres")]]
        for c in ranked
    ]
    return Section("ranking", "Ranking", before=[RANKING_NOTE], rows=rows, header=[
        "rank", "cell", "median RPS", "95% interval", "over the next", "server µs/request", "PostgreSQL µs/request"])


CPU_NOTE = (
    "CPU seconds each party used during the slices the figures use (user + system, from the operating "
    "system), over the requests wrk completed in them. The server is every process of the cell; PostgreSQL "
    "is the whole embedded cluster, its backends and its background processes; the load generator is wrk "
    "(oha at a constant rate). "
    "CPU is counted from wrk's start to its exit, a few milliseconds longer than the interval wrk counts "
    "requests in, so the figures lean slightly high. Statements per request (from pg_stat_statements, at "
    "verification) show what PostgreSQL was asked to do: asyncpg's pool sends a reset of 4 statements each "
    "time a connection goes back to the pool. Set a Python raw cell's PostgreSQL µs against Gin raw's, "
    "which sends the same lookup and no reset."
)
PARTY_TITLES = {"server": "server", "postgres": "PostgreSQL", "wrk": "wrk", "oha": "oha", "proxy": "toxiproxy"}


def party_title(party: str, document: dict) -> str:
    """A party's column title; the proxy's names what stood between the cells and PostgreSQL."""
    return stats.between_title(document["metadata"]["run"]) if party == "proxy" else PARTY_TITLES[party]


def parties_of(cells: list[dict]) -> list[str]:
    """server and PostgreSQL always; the load generator that ran (wrk or oha); the proxy party
    (toxiproxy, PgBouncer) where the run put one in the path."""
    return [party for party in stats.CPU_PARTIES if party not in stats.OPTIONAL_PARTIES
            or any(party in (c.get("cpu_us_per_request") or {}) for c in cells)]


def cpu_section(document: dict) -> Section | None:
    rows = []
    parties = parties_of(document["cells"])
    for c in document["cells"]:
        per_request = c.get("cpu_us_per_request") or {}
        if not any(per_request.values()):
            continue
        parts = [per_request.get(party) for party in parties]
        total = sum(value for value in parts if value is not None)
        rows.append([cell_name(c), fmt_rps(c.get("rps_median")), spr_text(c), *[fmt_us(v) for v in parts],
                     fmt_us(total)])
    if not rows:
        return None
    return Section("cpu", "Where a request's time goes", before=[CPU_NOTE], rows=rows, header=[
        "cell", "median RPS", "statements per request", *[f"{party_title(p, document)} µs/request" for p in parties],
        "total µs/request"])


def cells_section(document: dict) -> Section:
    rows = []
    generator = "oha" if results.is_open_loop(document) else "wrk"
    for c in document["cells"]:
        lat = c.get("latency_ms") or {}
        cpu = c.get("cpu_cores") or {}
        rows.append([
            cell_name(c), c["status"], str(c["pool_size"]) + (f" ({c['pool_why'].split(':')[0]})" if c.get("pool_why")
                                                              else ""),
            str(c.get("workers", c["server_cpus"])), spr_text(c),
            " / ".join(fmt_percentile(lat, k) for k in ("p50", "p90", "p99")),
            " / ".join("—" if cpu.get(k) is None else f"{cpu[k]:.2f}" for k in ("server", generator, "postgres")),
            f"{c['rps_cv']:.1%}" if c.get("rps_cv") is not None else "—",
            memory_text(c),
            f"{c.get('slices_used', 0)}/{len(c['slices'])}",
            str(sum(s["errors"] + s["non_2xx"] for s in results.used_slices(c))),
        ])
    note = (OPEN_LOOP_NOTE if results.is_open_loop(document) else LATENCY_NOTE) + " " + MEMORY_NOTE
    left_out = left_out_percentiles([(cell_name(c), c) for c in document["cells"]], ("p50", "p90", "p99"))
    return Section("cells", "Cells", rows=rows, after=[note, *left_out, *cell_notes(document["cells"])], header=[
        "cell", "status", "pool/worker", "workers", "statements per request", "latency p50/p90/p99 ms",
        f"CPU cores server/{generator}/PG", "CV", "memory MiB (per worker)", "slices used/taken", "errors"])


MEMORY_NOTE = (
    "Memory: the server's resident set at steady state, its whole process tree (the median over the slices "
    "used), and in brackets that over its workers; pages the workers share after fork are counted in each, so "
    "a many-worker total overstates what the host pays."
)


def memory_text(cell: dict) -> str:
    memory = cell.get("memory_mib")
    if not memory:
        return "—"
    return f"{memory['rss_mib']:,.0f} ({memory['per_worker_mib']:,.0f})"


def memory_change_text(found: dict) -> str:
    """A choice's memory, in words: "+12 MiB per worker"."""
    change = found.get("memory_per_worker_mib")
    return "—" if change is None else prices.memory_text(change)


def verification_section(document: dict) -> Section:
    """Each cell's verdict before it was measured: checks passed, the first that failed."""
    rows = []
    for c in document["cells"]:
        verdict = c.get("verification")
        if not verdict:
            rows.append([cell_name(c), "not verified", "—", c.get("reason") or "—"])
            continue
        checks = verdict.get("checks") or []
        failed = [check for check in checks if not check["ok"]]
        rows.append([cell_name(c), "passed" if verdict.get("ok") else "**failed**",
                     f"{len(checks) - len(failed)} of {len(checks)}",
                     f"{failed[0]['name']}: {failed[0]['detail']}" if failed else "—"])
    return Section("verification", "Verification", before=[
        "Every cell is checked against the database before it is measured: values field by field, status "
        "codes for missing and malformed input, and the statements each request sends (pg_stat_statements). "
        "A cell that fails is not measured."], header=["cell", "verdict", "checks passed", "first failure"],
        rows=rows)


def ladder_text(ladder: dict | None) -> str:
    """A tuned pool's evidence: each pool's paired ratio to the best, "4: 0.97 [0.90–1.05], 8: best"."""
    if not ladder:
        return "—"
    return ", ".join(f"{pool}: " + ("best" if step["best"] else fmt_ratio(step)) for pool, step in ladder.items())


def pools_section(document: dict) -> Section | None:
    """Where a run was to use tuned pools: each cell's pool, why, and the tuning's ratios behind it."""
    tuned = [c for c in document["cells"] if c.get("pool_ladder") or "tuned" in (c.get("pool_why") or "")]
    if not tuned:
        return None
    rows = [[cell_name(c), str(c["pool_size"]), c.get("pool_why") or "—", ladder_text(c.get("pool_ladder"))]
            for c in document["cells"]]
    return Section("pools", "Pool sizes", before=[
        "Each cell's pool per worker and why. A tuned pool was chosen by `dbbench tune` in a paired run of its own "
        "(not on the slices ranked here): the ratios are each pool's throughput over the cell's best pool."],
        header=["cell", "pool", "why", "ratio to the best pool, by pool [95%]"], rows=rows)


def price_reading(found: dict) -> str:
    """What a price's interval allows one to say, in words."""
    text = prices.reading(found)
    if text is None:
        return "not measured: a cell of the pair failed, was skipped or had unclean slices"
    return "cannot be told apart in this run" if text == "a tie" else text


def prices_section(document: dict) -> Section | None:
    """A preset's prices: each choice as a paired ratio of two cells measured in the same rounds."""
    preset = document["metadata"]["run"].get("preset")
    found = [c for c in document.get("summary", {}).get("comparisons", []) if c["kind"] == "price"]
    if not preset or not found:
        return None
    moved = [profiles.moved_in(document, c) for c in found]
    counted = [instructions.price_text(document, c) for c in found]
    rows = [[c["choice"], c["question"], f"{c['a']} over {c['b']}", fmt_ratio(c), price_reading(c),
             *([in_instructions or "—"] if any(counted) else []), memory_change_text(c),
             *([cpu or "—"] if any(moved) else [])]
            for c, cpu, in_instructions in zip(found, moved, counted, strict=True)]
    return Section("prices", "Price of each choice", before=[
        f"Preset `{preset['name']}`: {preset['summary']}. Each price is the chosen cell's throughput over the one "
        "it replaces, paired (the geometric mean of within-round ratios) with its 95% interval; its memory is "
        "what the chosen cell's workers hold over the other's, each at steady state."],
        header=["choice", "question", "cells", "ratio [95%]", "reading",
                *(["in instructions (docs/cost/)"] if any(counted) else []), "memory",
                *(["where its CPU moved (shares of samples)"] if any(moved) else [])], rows=rows,
        after=[*prices.psycopg_note(found, [document]),
               *([instructions.PRICE_NOTE] if any(counted) else [])])


def cell_notes(cells: list[dict]) -> list[str]:
    """Why a legacy cell is kept, what a cell's figures include that others' do not, and the
    driver settings it ran with."""
    notes: dict[str, list[str]] = {}
    for cell in cells:
        settings = ", ".join(f"{key}={value}" for key, value in (cell.get("settings") or {}).items())
        for text in (f"legacy: {cell['legacy']}" if cell.get("legacy") else None, cell.get("note"),
                     f"driver settings set on purpose (apps/cells.toml): {settings}" if settings else None):
            if text:
                notes.setdefault(text, []).append(cell_name(cell))
    return [f"{', '.join(names)}: {text}." for text, names in notes.items()]


def problems_section(document: dict) -> Section | None:
    problems = [f"{cell_name(c)}: {c['status']}: {c['reason']}" for c in document["cells"] if c.get("reason")]
    return Section("problems", "Failed or skipped", items=problems) if problems else None


def sections(document: dict) -> list[Section]:
    """The report's parts in order; a part with nothing to show is left out."""
    if results.is_open_loop(document):
        found = [open_loop_section(document), cpu_section(document), cells_section(document),
                 verification_section(document), problems_section(document)]
    else:
        found = [matrix_section(document), prices_section(document), orm_tax_section(document),
                 instructions.section(document), mix_section(document),
                 ranking_section(document), cpu_section(document), profiles.section(document),
                 instructions.beside_profiles(document),
                 cells_section(document),
                 pools_section(document), verification_section(document), problems_section(document)]
    return [section for section in found if section is not None]


def render_markdown(document: dict) -> str:
    out = [f"# {title_of(document)}", "", *[f"- **{label}**: {text}" for label, text in facts(document)]]
    for section in sections(document):
        out += ["", f"## {section.title}"]
        for paragraph in section.before:
            out += ["", paragraph]
        if section.rows:
            out += ["", md_table(section.header, section.rows)]
        if section.items:
            out += ["", *[f"- {item}" for item in section.items]]
        for paragraph in section.after:
            out += ["", paragraph]
    return "\n".join(out) + "\n"


CSV_FIELDS = ("name", "framework", "variant", "strategy", "scenario", "status", "rank", "rps_median", "rps_ci95_low",
              "rps_ci95_high", "share_of_reference", "share_ci95_low", "share_ci95_high", "rps_cv", "slices",
              "pool_size", "server_cpus", "p50_ms", "p90_ms", "p99_ms", "rss_mib", "rss_per_worker_mib",
              *[f"{party}_us_per_request" for party in stats.CPU_PARTIES], "errors", "flags", "reason",
              "instructions_per_request")


def render_csv(document: dict) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    shares = comparisons_of(document, "reference")
    counted = (instructions.summary_of(document) or {}).get("cells", {})
    for c in document["cells"]:
        ci = c.get("rps_ci95") or [None, None]
        lat = c.get("latency_ms") or {}
        share = shares.get(cell_name(c)) or {}
        share_ci = share.get("ci95") or [None, None]
        per_request = c.get("cpu_us_per_request") or {}
        memory = c.get("memory_mib") or {}
        writer.writerow({
            "name": cell_name(c), "framework": c["framework"], "variant": c["variant"], "strategy": c.get("strategy"),
            "scenario": c["scenario"], "status": c["status"], "rank": c.get("rank"),
            "rps_median": c.get("rps_median"), "rps_ci95_low": ci[0], "rps_ci95_high": ci[1],
            "share_of_reference": share.get("ratio"), "share_ci95_low": share_ci[0], "share_ci95_high": share_ci[1],
            "rps_cv": c.get("rps_cv"), "slices": c.get("slices_used", 0), "pool_size": c["pool_size"],
            "server_cpus": c["server_cpus"], "p50_ms": lat.get("p50"), "p90_ms": lat.get("p90"),
            "p99_ms": lat.get("p99"), "rss_mib": memory.get("rss_mib"),
            "rss_per_worker_mib": memory.get("per_worker_mib"), **{f"{party}_us_per_request": per_request.get(party)
                                         for party in stats.CPU_PARTIES},
            "errors": sum(s["errors"] + s["non_2xx"] for s in results.used_slices(c)),
            "flags": " ".join(c.get("flags") or []), "reason": c.get("reason") or "",
            "instructions_per_request": (counted.get(cell_name(c)) or {}).get("median"),
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
