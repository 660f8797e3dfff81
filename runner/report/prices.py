"""A preset's prices across its runs: one column per scenario and path, and the decision in words.

A price is paired within one run (the chosen cell's throughput over the other's, in the same
rounds); runs of different scenarios, networks or poolers are measured one after the other,
so a price is never taken across runs: each column is its own run's, and the words say what
each column shows, a tie where its interval holds 1.
"""

from __future__ import annotations

from pathlib import Path

from runner.base.errors import DbbenchError
from runner.report import instructions, profiles, results
from runner.report.formatting import fmt_ratio, md_table

# Said where psycopg's prices are: measured and tested (tests/test_stacks.py), not in a run's numbers.
PSYCOPG_UNDER_SQLALCHEMY = (
    "Without a pooler: under SQLAlchemy's pool, psycopg 3 never keeps a statement prepared: the pool's "
    "rollback as each connection returns makes psycopg forget what it prepared, so the `sa-*-psycopg` cells "
    "plan every statement whatever their prepare_threshold (measured and kept true by tests/test_stacks.py); "
    "raw psycopg prepares after prepare_threshold runs on a connection, asyncpg on the first."
)
PREPARED_GONE_BEHIND_POOLER = (
    "Behind PgBouncer each driver runs with the settings its documentation asks for there (each cell's "
    "report lists them): asyncpg prepares every statement again, unnamed, on each run; SQLAlchemy's asyncpg "
    "dialect prepares each under a new unique name; psycopg never prepares; pgx sends unnamed statements. "
    "PgBouncer itself keeps no prepared statement (1.18 cannot; a later one is told not to)."
)


def runs_under(paths: list[str]) -> list[dict]:
    """Every results.json named, or found under a directory named (a `--out` holding several runs),
    oldest first."""
    found: list[Path] = []
    for name in paths:
        path = Path(name)
        if path.is_dir() and not (path / "results.json").exists():
            found += sorted(p for p in path.glob("*/results.json") if not p.parent.is_symlink())
        else:
            found.append(path / "results.json" if path.is_dir() else path)
    if not found:
        raise DbbenchError(f"no results.json in {', '.join(paths)}")
    documents = [results.load(path) for path in found]
    presets = {(doc["metadata"]["run"].get("preset") or {}).get("name") for doc in documents}
    if None in presets or len(presets) > 1:
        raise DbbenchError("prices compare the runs of one preset: these are of "
                           + ", ".join(sorted(str(name) for name in presets)))
    return sorted(documents, key=started_at)


def started_at(document: dict) -> str:
    return document["metadata"]["run"]["started_at"]


def column_of(document: dict) -> str:
    """What tells a run apart from the preset's others: its scenario, network and pooler."""
    run = document["metadata"]["run"]
    label = run["scenario"]
    if run.get("db_latency_ms"):
        label += f" +{run['db_latency_ms']} ms"
    if run.get("pooler"):
        label += " behind PgBouncer"
    return label


def pools_text(document: dict) -> str:
    """The run's pool policy, which each price holds: one policy for every cell, or which differ."""
    ran = [cell for cell in document["cells"] if cell["status"] == "ok"]
    kinds = {(cell.get("pool_why") or "").split(":")[0] for cell in ran}
    sizes = sorted({cell["pool_size"] for cell in ran})
    if kinds == {"rule"}:
        return f"every cell at the rule's pool ({', '.join(map(str, sizes))} per worker)"
    if kinds == {"tuned"}:
        return "every cell at its own tuned pool"
    return "pools of different kinds: " + ", ".join(f"{cell['name']} {cell['pool_size']} ({kind})" for cell in ran
                                                     for kind in [(cell.get("pool_why") or "?").split(":")[0]])


def scenario_weights(document: dict) -> str | None:
    """The mix's weights, as its run recorded them (scenarios/<name>.toml)."""
    weights = document["metadata"]["run"].get("weights") or {}
    return ", ".join(f"{endpoint} {share}%" for endpoint, share in weights.items()) or None


def price_rows(documents: list[dict]) -> list[dict]:
    """Each declared price, with its comparison in every run (None where a run has none)."""
    rows: dict[tuple, dict] = {}
    for index, document in enumerate(documents):
        for found in document.get("summary", {}).get("comparisons", []):
            if found["kind"] != "price":
                continue
            key = (found["choice"], found["question"], found["a"], found["b"])
            row = rows.setdefault(key, {"choice": found["choice"], "question": found["question"], "a": found["a"],
                                        "b": found["b"], "runs": [None] * len(documents)})
            row["runs"][index] = found
            moved = profiles.moved_in(document, found)
            if moved and "cpu_moved" not in row:
                row["cpu_moved"] = (column_of(document), moved)
    return list(rows.values())


def reading(found: dict | None) -> str | None:
    """A price in a few words, or None where it was not measured."""
    if found is None or found.get("ratio") is None:
        return None
    if found.get("tie") or not found.get("ci95"):
        return "a tie"
    low, high = found["ci95"]
    if high < 1:
        return f"{1 - high:.0%} to {1 - low:.0%} less throughput"
    return f"{low - 1:.0%} to {high - 1:.0%} more throughput"


def memory_words(row: dict) -> str | None:
    """The memory a choice adds per worker: the median over the runs that recorded it."""
    changes = sorted(found["memory_per_worker_mib"] for found in row["runs"]
                     if found and found.get("memory_per_worker_mib") is not None)
    return memory_text(changes[len(changes) // 2]) if changes else None


def memory_text(change: float) -> str:
    """What a choice adds to each worker's resident memory, in words: "+12 MiB per worker"."""
    return f"{change:+,.0f} MiB per worker" if round(change) else "the same memory per worker (within 1 MiB)"


def psycopg_note(prices: list[dict], documents: list[dict]) -> list[str]:
    """The psycopg-under-SQLAlchemy finding, where a price of psycopg's was measured without a
    pooler (behind one, every psycopg cell runs with prepare_threshold None)."""
    direct = [document for document in documents if not document["metadata"]["run"].get("pooler")]
    return [PSYCOPG_UNDER_SQLALCHEMY] if direct and any("psycopg" in p["a"] + p["b"] for p in prices) else []


def decision(row: dict, labels: list[str]) -> str:
    """One sentence per choice, from its numbers alone: what it buys or costs in each column."""
    readings = [(label, reading(found)) for label, found in zip(labels, row["runs"], strict=True)]
    said = [f"{text} on {label}" for label, text in readings if text]
    missing = [label for label, text in readings if text is None]
    if len(labels) > 1 and all(text == "a tie" for _, text in readings):
        said = [f"a tie on each of {', '.join(labels)}"]
    sentence = f"**{row['question']}** ({row['a']} over {row['b']}): " + ("; ".join(said) or "not measured")
    if said and missing:
        sentence += f"; not measured on {', '.join(missing)}"
    if memory := memory_words(row):
        sentence += f"; {memory}"
    if cpu := row.get("cpu_moved"):
        sentence += f"; where its CPU moved ({cpu[0]}): {cpu[1]}"
    return sentence + "."


def render(documents: list[dict]) -> str:
    labels = [column_of(document) for document in documents]
    rows = price_rows(documents)
    preset = documents[0]["metadata"]["run"]["preset"]
    out = [f"# Price of each choice: preset `{preset['name']}`", "", preset["summary"] + ".", "",
           "Each price is the chosen cell's throughput over the one it replaces (below 1, the choice costs "
           "throughput), paired within one run: the geometric mean of within-round ratios, and for two cells "
           "measured in different groups of the run, through the anchor cell every group holds; with its 95% "
           "interval. Each column is one run, measured one after the other, so compare a price within its "
           "column, and a column's level with another's only as that: the runs differ in time as well as in "
           "scenario and path. (tie): the interval holds 1. With many prices, a few 95% intervals exclude 1 by "
           "chance alone (about 1 in 20 where nothing differs): an interval that only just excludes 1 is weak "
           "evidence on its own."]
    for document, label in zip(documents, labels, strict=True):
        weights = scenario_weights(document)
        commit = (document["metadata"]["project"].get("git_commit") or "?")[:12]
        out.append(f"- {label}: the run of {started_at(document)}, commit {commit}; {pools_text(document)}"
                   + (f"; the mix's weights: {weights}" if weights else ""))
    counted = [next((text for document, found in zip(documents, row["runs"], strict=True) if found
                     for text in [instructions.price_text(document, found)] if text), None) for row in rows]
    table = [[row["choice"], row["question"], *[fmt_ratio(found) if found else "—" for found in row["runs"]],
              *([in_instructions or "—"] if any(counted) else []), memory_words(row) or "—"]
             for row, in_instructions in zip(rows, counted, strict=True)]
    out += ["", md_table(["choice", "question", *labels, *(["in instructions"] if any(counted) else []), "memory"],
                         table), "",
            *([instructions.PRICE_NOTE, ""] if any(counted) else []),
            "Memory: what the chosen cell's workers hold over the other's at steady state, the median over the runs; "
            "each cell's whole process tree over its workers, so a server with a manager process (Sanic's, "
            "gunicorn's) counts it in.", "", "## The decision, in words", ""]
    out += [f"- {decision(row, labels)}" for row in rows]
    for note in psycopg_note(rows, documents):
        out += ["", note]
    if any(document["metadata"]["run"].get("pooler") for document in documents):
        out += ["", PREPARED_GONE_BEHIND_POOLER]
    return "\n".join(out) + "\n"
