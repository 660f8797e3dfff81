"""The report stage: the ranking matrix and its tables, rendered from a stored results file.

Nothing here measures anything; `dbbench report` renders any stored run again, and
`dbbench compare` sets two stored runs side by side.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field

from runner.base.errors import DbbenchError
from runner.report import results, stats

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
    needs = ", ".join(f"a {key} {stats.requests_for(key):,}" for key in keys if stats.requests_for(key) > 2)
    return [f"— in a percentile's column: not measured. The slices held too few requests for it (a slice needs, "
            f"for {needs}), so it is left out rather than shown as a figure: {held}."]


def median_requests(cell: dict) -> float | None:
    return stats.median([s["requests"] for s in results.used_slices(cell)]) if cell.get("slices") else None


def cell_name(cell: dict) -> str:
    return cell.get("name") or f"{cell['framework']}/{cell['variant']}"


def estimate_of(cell: dict) -> stats.Estimate | None:
    """From the raw slices, as results.finalize derives the stored figures."""
    return stats.estimate([s["rps"] for s in results.used_slices(cell)])


def fmt_interval(ci: list[float] | None, digits: int = 0, missing: str = "") -> str:
    """ [low–high] after the figure it belongs to, or what stands in for it."""
    return f" [{ci[0]:,.{digits}f}–{ci[1]:,.{digits}f}]" if ci else missing


def rps_interval(cell: dict) -> str:
    """The median's own interval; where too few slices give none at 95%, that is said."""
    return fmt_interval(cell.get("rps_ci95"), missing=f" ({stats.interval_note(cell.get('slices_used') or 0)})")


def fmt_ratio(found: dict, percent: bool = False) -> str:
    """0.52 [0.50–0.54], or 52% [50–54%]; with (tie) where the interval contains 1."""
    if found.get("ratio") is None:
        return "—"
    value, ci = found["ratio"], found.get("ci95")
    if percent:
        text = f"{value:.0%}" + (f" [{ci[0]:.0%}–{ci[1]:.0%}]" if ci else "")
    else:
        text = f"{value:.2f}" + (f" [{ci[0]:.2f}–{ci[1]:.2f}]" if ci else "")
    return text + (" (tie)" if found.get("tie") else "")


def comparisons_of(document: dict, kind: str) -> dict[str, dict]:
    """The run's stored ratios of one kind, by the cell on top (a)."""
    return {c["a"]: c for c in document.get("summary", {}).get("comparisons", []) if c["kind"] == kind}


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


def matrix_cell(cell: dict | None, shares: dict[str, dict]) -> str:
    if cell is None:
        return ""
    if cell["status"] != "ok":
        return f"**{cell['status']}**"
    if not cell["slices"]:
        return "no slices"
    text = fmt_rps(cell["rps_median"]) + rps_interval(cell)
    share = shares.get(cell_name(cell))
    if share:
        text += f" ({fmt_ratio(share, percent=True)} of {share['b']})"
    if cell.get("flags"):
        text += " " + " ".join(f"`{flag}`" for flag in cell["flags"])
    return text


def md_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


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


MIX_LATENCY_NOTE = (
    "Latency per request kind is not shown: wrk keeps one latency histogram for all requests, and its Lua "
    "response() hook gets the status, headers and body but neither the request it answers nor its latency, "
    "so a kind cannot be timed separately in one closed-loop run. Each kind's own scenario (by-id, "
    "by-username, page, edit) gives its latency."
)


def scenario_lines(document: dict) -> list[str]:
    """What the scenario asks for, and for one that writes, the restore of the seeded rows."""
    run = document["metadata"]["run"]
    lines = [f"{run['scenario']}: {run.get('scenario_description', '')}."]
    if run.get("weights"):
        lines.append("Declared mix (scenarios/" + run["scenario"] + ".toml): " + ", ".join(
            f"{kind} {share}%" for kind, share in run["weights"].items()) + ".")
    if run.get("writes"):
        restored = run.get("restored") or []
        rows = sum(entry.get("rows") or 0 for entry in restored)
        failed = [entry for entry in restored if entry.get("error")]
        lines.append(
            f"It writes: the seeded users were put back after every group ({rows:,} rows re-seeded in all); "
            + (f"**{len(failed)} restore(s) failed**: {failed[0]['error']}." if failed else
               "the table's checksum was the seed's again each time.")
        )
    return lines


def stop_detail(run: dict, worst: float | None) -> str:
    parts = [f"worst ratio interval ±{worst:.1%}" if worst is not None else "no ratio interval yet"]
    if run.get("precision_target"):
        parts.append(f"target ±{run['precision_target']:.0%}")
    if run.get("budget_s") and not run.get("rounds_fixed"):
        parts.append(f"budget {run['budget_s']:.0f} s")
    return ", ".join(parts)


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


def title_of(document: dict) -> str:
    run = document["metadata"]["run"]
    load = "constant rate, up to " if run.get("open_loop") else ""
    return (f"dbbench: {run['scenario']}, {load}{run['connections']} connections, slices of {run['slice_s']} s, "
            f"{run['server_cpus']} server CPU(s)")


def facts(document: dict) -> list[tuple[str, str]]:
    """The run's metadata in short labelled lines: what ran, on what, with which versions."""
    meta = document["metadata"]
    run, dataset, machine, project = meta["run"], meta["dataset"], meta["machine"], meta["project"]
    pg = meta["postgres"]
    state = "complete" if document["complete"] else "**incomplete** (still running, or interrupted)"
    found = [
        ("Run", f"{state}, from {run['started_at']} to {run.get('finished_at') or '—'}"),
        ("Scenario", " ".join(scenario_lines(document))),
        ("Code", f"commit {(project.get('git_commit') or '?')[:12]}{' (dirty)' if project.get('git_dirty') else ''}"),
        ("Data", f"{dataset.get('users') or 0:,} users (checksum {dataset.get('checksum')})"),
        ("PostgreSQL", f"{pg['settings'].get('server_version', '?')} {postgres_place(meta)}"),
        *([("Hosts", hosts_text(meta["hosts"]))] if meta.get("hosts") else []),
        ("Network", network_text(run)),
        *[("Fault", fault_text(entry)) for entry in run.get("faults") or []],
        ("Load", load_text(document)),
        ("App host" if meta.get("hosts") else "Machine",
         f"{machine['cpu_count']} × {machine['cpu_model']}, kernel {machine['kernel']}"),
        ("CPU placement", run["pinning"]),
    ]
    return found + method_facts(document)


def postgres_place(meta: dict) -> str:
    if meta.get("hosts"):
        db = next(host for host in meta["hosts"] if "db" in host["roles"])
        return f"(on the db host {db['name']}: its CPU from that host's own sampler)"
    return "(embedded)" if meta["postgres"].get("embedded") else "(external: its CPU is not measured)"


def hosts_text(hosts: list[dict]) -> str:
    """A cluster run's layout: what ran where, on what, and each host's clock against the controller's."""
    return "; ".join(
        f"{host['name']} ({host['address']}) ran {' and '.join(host['runs'])}: {host['cores']} × {host['cpu_model']}, "
        f"kernel {host['kernel']}, clock {host['clock_offset_ms']:+.1f} ms (±{host['clock_uncertainty_ms']:.1f})"
        for host in hosts)


def load_text(document: dict) -> str:
    run, tools = document["metadata"]["run"], document["metadata"]["tools"]
    found = run.get("open_loop")
    if not found:
        return (f"{tools.get('wrk')}, {run['connections']} connections, {run.get('wrk_threads', 1)} thread(s), "
                "closed loop")
    rate = f"{found['rate']:,g} requests/s" if found.get("rate") is not None else "a rate per cell (see the table)"
    return (f"{found['generator']} at a constant rate, {rate}, up to {run['connections']} connections, "
            f"{run.get('wrk_threads', 1)} thread(s): open loop, {found['correction']}; a rate is held when at least "
            f"{found['held_fraction']:.0%} of it was achieved. Warm-up: {found['warm_up']}")


def network_text(run: dict) -> str:
    if run.get("cluster"):
        return (f"three hosts ({run['cluster']['layout']}): the cells reach PostgreSQL, and wrk the cells, over the "
                "network")
    if run.get("target"):
        return (f"the cell serves on another host ({run['target']}): measured and verified from here; its CPU "
                "time and its way to PostgreSQL are on its own host, unknown here")
    found = run.get("proxy")
    if found and not found["latency_ms"]:
        return f"{found['tool']} {found['version']} between the cells and PostgreSQL, no latency added"
    if not found:
        return "loopback: the cells talk to PostgreSQL directly"
    ways = found["per_direction_ms"]
    return (f"{found['tool']} {found['version']} between the cells and PostgreSQL, +{found['latency_ms']} ms per "
            f"round trip ({ways['upstream']} ms on the way there, {ways['downstream']} ms back)")


def fault_text(entry: dict) -> str:
    """One fault injected between rounds, and how long each cell took to serve again."""
    what = "every database connection dropped" if entry["fault"] == "reset" else \
        f"PostgreSQL unreachable for {entry['seconds']:.1f} s"
    recovered = "; ".join(f"{name} {'did not recover' if took is None else f'{took:.2f} s'}"
                          for name, took in entry["recovery_s"].items())
    return (f"{what} after round {entry['after_round']} of group {entry['group']}; time to serve steadily again "
            f"once the database was back: {recovered}. No slice was measured during the fault.")


def method_facts(document: dict) -> list[tuple[str, str]]:
    """How the figures were made, how the run stopped, and how noisy the host was."""
    run, summary = document["metadata"]["run"], document.get("summary", {})
    groups = run.get("groups") or []
    rounds = ", ".join(str(g["rounds"]) for g in groups) or "0"
    found = [
        ("Method", f"warm cells measured in slices of {run.get('slice_s')} s, each round giving every cell one "
                   f"slice in a shuffled order; {len(groups)} group(s) of up to {run.get('max_cells_up', '?')} "
                   f"cells up at once (rounds per group: {rounds})"
                   + (f", anchor {run['anchor']}" if len(groups) > 1 else "")),
        ("Stopped", f"{run.get('stop_reason') or '—'} ({stop_detail(run, summary.get('worst_half_width'))})"),
    ]
    noise = summary.get("noise") or {}
    if noise.get("slices"):
        detectable = summary.get("smallest_detectable")
        found.append(("Host noise", (
            f"steal median {noise['steal_median']:.1%}, worst {noise['steal_worst']:.1%}; CPU used outside the "
            f"measurement, median {noise['outside_cores_median']:.2f} cores{outside_sources_text(noise)}; "
            f"{noise['disturbed']} of "
            f"{noise['slices']} slices disturbed ({noise['repeated']} measured again); smallest detectable "
            "difference " + (f"about ±{detectable:.1%}" if detectable is not None else "—")
            + backlog_text(noise) + other_hosts_noise(document))))
    return found


def outside_sources_text(noise: dict) -> str:
    """The host-noise line's clause naming who used the CPU outside the measurement."""
    sources = [found for found in noise.get("outside_sources") or [] if found["cores_mean"] >= 0.005]
    if not sources:
        return ""
    named = ", ".join(f"{'this dbbench command' if found['source'] == 'runner' else found['source']} "
                      f"{found['cores_mean']:.2f}" for found in sources)
    return f" (mainly, as cores on average over slices: {named})"


def backlog_text(noise: dict) -> str:
    """The host-noise line's clause on the slices that waited, if any did."""
    return f"; {backlog_waits(noise)}" if noise.get("backlog_waits") else ""


def backlog_waits(noise: dict) -> str:
    """How many slices first waited for the requests the last load abandoned, for how long, and
    how many gave up: one phrase for the report and the lessons."""
    unsettled = noise["backlog_unsettled"]
    return (f"{noise['backlog_waits']} slices first waited {noise['backlog_waited_s']:.1f} s in all for the "
            "requests the last load left in its server" + (f" ({unsettled} gave up waiting)" if unsettled else ""))


def other_hosts_noise(document: dict) -> str:
    """A cluster run's db and load hosts: their steal over the slices, from their own agents."""
    steal: dict[str, list[float]] = {}
    for cell in document["cells"]:
        for piece in cell["slices"]:
            for host, found in (piece.get("hosts") or {}).items():
                steal.setdefault(f"{host} ({found['role']})", []).append(found["steal"])
    return "".join(f"; {host}: steal median {stats.median(values):.1%}, worst {max(values):.1%}"
                   for host, values in sorted(steal.items()))


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
        rows.append([label, *[matrix_cell(by_key.get((framework, v)), shares) for v in variants]])
    present = {c.get("strategy") for c in cells}
    strategies = ", ".join(STRATEGY_TITLES.get(s, s) for s in STRATEGY_ORDER if s in present)
    return Section(
        "throughput", "Requests per second",
        before=["Median over slices [its 95% interval, from order statistics: distribution-free, so it always "
                "holds the median], and the share of the reference with its 95% interval (blocked: the geometric "
                "mean of within-round ratios, Student t on the log ratios). "
                f"Columns grouped by strategy: {strategies}."],
        header=["framework", *[f"{v} ({STRATEGY_TITLES.get(strategy_of[v], strategy_of[v])})" for v in variants]],
        rows=rows, after=[FLAGS_NOTE])


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


def fmt_us(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f}"


def fmt_latency(found: dict | None) -> str:
    """A percentile's median over slices, with its interval [low–high] where the slices give one."""
    if not found:
        return "—"
    return f"{found['median']:,.2f}" + fmt_interval(found.get("ci95"), digits=2)


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


def spr_text(cell: dict) -> str:
    return ", ".join(f"{k} {v:g}" for k, v in (cell.get("statements_per_request") or {}).items()) or "—"


PARTY_TITLES = {"server": "server", "postgres": "PostgreSQL", "wrk": "wrk", "oha": "oha", "proxy": "toxiproxy"}


def parties_of(cells: list[dict]) -> list[str]:
    """server and PostgreSQL always; the load generator that ran (wrk or oha); toxiproxy where
    the run put it in the path."""
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
        "cell", "median RPS", "statements per request", *[f"{PARTY_TITLES[p]} µs/request" for p in parties],
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
            f"{c.get('slices_used', 0)}/{len(c['slices'])}",
            str(sum(s["errors"] + s["non_2xx"] for s in results.used_slices(c))),
        ])
    note = OPEN_LOOP_NOTE if results.is_open_loop(document) else LATENCY_NOTE
    left_out = left_out_percentiles([(cell_name(c), c) for c in document["cells"]], ("p50", "p90", "p99"))
    return Section("cells", "Cells", rows=rows, after=[note, *left_out, *cell_notes(document["cells"])], header=[
        "cell", "status", "pool/worker", "workers", "statements per request", "latency p50/p90/p99 ms",
        f"CPU cores server/{generator}/PG", "CV", "slices used/taken", "errors"])


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
    if found.get("ratio") is None:
        return "not measured: a cell of the pair failed, was skipped or had unclean slices"
    if found.get("tie") or not found.get("ci95"):
        return "cannot be told apart in this run"
    low, high = found["ci95"]
    if high < 1:
        return f"{1 - high:.0%} to {1 - low:.0%} less throughput"
    return f"{low - 1:.0%} to {high - 1:.0%} more throughput"


def prices_section(document: dict) -> Section | None:
    """A preset's prices: each choice as a paired ratio of two cells measured in the same rounds."""
    preset = document["metadata"]["run"].get("preset")
    found = [c for c in document.get("summary", {}).get("comparisons", []) if c["kind"] == "price"]
    if not preset or not found:
        return None
    rows = [[c["choice"], c["question"], f"{c['a']} over {c['b']}", fmt_ratio(c), price_reading(c)] for c in found]
    return Section("prices", "Price of each choice", before=[
        f"Preset `{preset['name']}`: {preset['summary']}. Each price is the chosen cell's throughput over the one "
        "it replaces, paired (the geometric mean of within-round ratios) with its 95% interval."],
        header=["choice", "question", "cells", "ratio [95%]", "reading"], rows=rows)


def cell_notes(cells: list[dict]) -> list[str]:
    """Why a legacy cell is kept, and what a cell's figures include that others' do not."""
    notes: dict[str, list[str]] = {}
    for cell in cells:
        for text in (f"legacy: {cell['legacy']}" if cell.get("legacy") else None, cell.get("note")):
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
        found = [matrix_section(document), prices_section(document), orm_tax_section(document), mix_section(document),
                 ranking_section(document), cpu_section(document), cells_section(document),
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
              "pool_size", "server_cpus", "p50_ms", "p90_ms", "p99_ms",
              *[f"{party}_us_per_request" for party in stats.CPU_PARTIES], "errors", "flags", "reason")


def render_csv(document: dict) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    shares = comparisons_of(document, "reference")
    for c in document["cells"]:
        ci = c.get("rps_ci95") or [None, None]
        lat = c.get("latency_ms") or {}
        share = shares.get(cell_name(c)) or {}
        share_ci = share.get("ci95") or [None, None]
        per_request = c.get("cpu_us_per_request") or {}
        writer.writerow({
            "name": cell_name(c), "framework": c["framework"], "variant": c["variant"], "strategy": c.get("strategy"),
            "scenario": c["scenario"], "status": c["status"], "rank": c.get("rank"),
            "rps_median": c.get("rps_median"), "rps_ci95_low": ci[0], "rps_ci95_high": ci[1],
            "share_of_reference": share.get("ratio"), "share_ci95_low": share_ci[0], "share_ci95_high": share_ci[1],
            "rps_cv": c.get("rps_cv"), "slices": c.get("slices_used", 0), "pool_size": c["pool_size"],
            "server_cpus": c["server_cpus"], "p50_ms": lat.get("p50"), "p90_ms": lat.get("p90"),
            "p99_ms": lat.get("p99"), **{f"{party}_us_per_request": per_request.get(party)
                                         for party in stats.CPU_PARTIES},
            "errors": sum(s["errors"] + s["non_2xx"] for s in results.used_slices(c)),
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
        verdict = {"apart": "faster" if change > 0 else "slower",
                   "overlap": "no significant change (intervals overlap)",
                   "unknown": "cannot tell: too few slices for a 95% interval of the median"}[
            stats.separation(old_est, new_est)]
        rows.append([cell_name(cell), fmt_rps(old_est.median), fmt_rps(new_est.median), f"{change:+.1%}", verdict])
    if not rows:
        raise DbbenchError("the two runs have no cell in common")
    header = ["cell", f"A ({a['metadata']['run']['started_at']})", f"B ({b['metadata']['run']['started_at']})",
              "change", "verdict"]
    warning = f"\nCompared despite: {'; '.join(reasons)}.\n" if reasons else ""
    unpaired = ("\nUnpaired: two runs share no rounds, so no drift cancels between them; a change is called "
                "only where the two absolute 95% intervals do not overlap.\n")
    return md_table(header, rows) + "\n" + unpaired + warning
