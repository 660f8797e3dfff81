"""The published cost runs' instructions per request in a throughput run's report: beside each
cell in the matrix, each ORM tax and each price (with the range their repeats give), and beside
the py-spy shares of a profiled run. A run records the published figures at its start
(`metadata.run.cost_published`, from cost.published_summary), so its report states them from its
own results."""

from __future__ import annotations

from runner.report import profiles
from runner.report.cost import CATEGORIES, pair, ratio_of, thousands
from runner.report.formatting import Section, cell_name, comparisons_of

PRICE_NOTE = (
    "In instructions: the chosen cell's instructions per request over the other's, from the published cost runs "
    "(docs/cost/ and a preset's docs/cost/PRESET/, both cells from one run where one counted both: under "
    "callgrind, one worker, one request at a time, by-id), in brackets the lowest and highest ratio their "
    "repeats give, and whether the throughput price of the same scenario agrees (its 95% interval holds the "
    "other's instructions over the chosen one's, from their medians) or the chosen cell does better or worse in "
    "throughput than its instructions say: what instructions do not count (PostgreSQL, waiting, cache misses, "
    "the kernel, concurrency) is where they part.")
# The columns where py-spy's shares (profiles.CATEGORIES) and callgrind's stand side by side.
SHOWN = tuple(category for category in CATEGORIES if category != "Go runtime")
MATRIX_NOTE = (
    "After ·, the cell's instructions per request in the published cost runs (dbbench cost: one worker, one "
    "request at a time, under callgrind), which the host's noise does not move; see \"Instructions per request\".")


def summary_of(document: dict) -> dict | None:
    """The published cost runs this run recorded, where they counted the scenario it measured; else None."""
    run = document["metadata"]["run"]
    summary = run.get("cost_published")
    return summary if summary and summary["scenario"] == run["scenario"] else None


def counted_ratio(a: dict, b: dict) -> tuple[float, str]:
    """Two published cells' ratio, a over b: the medians', and "1.234 [1.230–1.238]" with the lowest
    and highest ratio their repeats give."""
    shown, span = ratio_of([a["low"], a["median"], a["high"]], [b["low"], b["median"], b["high"]])
    return a["median"] / b["median"], f"{shown} [{span}]"


def matrix_text(document: dict, cell: dict) -> str:
    """" · 724k instr." for a matrix cell the published cost runs counted, else ""."""
    summary = summary_of(document)
    found = summary["cells"].get(cell_name(cell)) if summary else None
    return f" · {thousands(found['median'])} instr." if found else ""


def agreement(instructions: float, throughput: dict) -> str | None:
    """Whether a ratio in instructions (a over b) and one in throughput (a over b, with its 95%
    interval) say the same: b's instructions over a's are what a's throughput over b's would be
    if instructions were all a request cost. None where the throughput ratio has no interval."""
    if not throughput.get("ratio") or not throughput.get("ci95"):
        return None
    expected = 1 / instructions
    low, high = throughput["ci95"]
    if low <= expected <= high:
        return "agree"
    return ("better in throughput than its instructions say" if expected < low
            else "worse in throughput than its instructions say")


def inverted(found: dict) -> str:
    """A throughput ratio a over b turned to b over a, with its interval, as instructions read."""
    if not found.get("ratio"):
        return ""
    shown = f"{1 / found['ratio']:.3f}"
    return shown + (f" [{1 / found['ci95'][1]:.3f}–{1 / found['ci95'][0]:.3f}]" if found.get("ci95") else "")


def other_commit(document: dict, summary: dict, names: list[str] | None = None) -> str | None:
    """A sentence where the published cost runs counted other code than this run measured (of the
    cells named, or of every cell they counted)."""
    mine = (document["metadata"].get("project") or {}).get("git_commit")
    counted = [summary["cells"][name] for name in names or summary["cells"] if name in summary["cells"]]
    theirs = sorted({found.get("commit") or summary.get("commit") for found in counted} - {None, mine})
    if mine and theirs:
        return (f"The cost runs counted commit {', '.join(commit[:7] for commit in theirs)}, this run measured "
                f"{mine[:7]}: a change between them may be part of any difference.")
    return None


def section(document: dict) -> Section | None:
    """The run's cells in the published cost runs: instructions per request, and each ORM tax in
    instructions (with its repeats' range) beside this run's in throughput; None where the
    published runs counted another scenario or none of these cells."""
    summary = summary_of(document)
    if not summary:
        return None
    counted = summary["cells"]
    taxes = comparisons_of(document, "orm-tax")
    rows = []
    for cell in document["cells"]:
        name = cell_name(cell)
        found = counted.get(name)
        if found is None:
            continue
        raw = (pair(summary, name, f"{cell['framework']}/raw") or (None, None))[1]
        ratio, shown = counted_ratio(found, raw) if raw and cell["variant"] != "raw" else (None, "")
        tax = taxes.get(name)
        rows.append([name, f"{thousands(found['median'])} [{thousands(found['low'])}–{thousands(found['high'])}]",
                     shown, inverted(tax) if tax else "", (agreement(ratio, tax) or "") if tax and ratio else ""])
    if not rows:
        return None
    return Section(
        "instructions", "Instructions per request (dbbench cost)",
        before=[f"From the published cost runs (docs/cost/: the default cells counted {summary['started_at'][:10]}, "
                f"commit {(summary['commit'] or 'unknown')[:7]}, {summary['tool']}; a preset's other cells in "
                "docs/cost/PRESET/): each server's instructions per "
                "request under callgrind, the median of its repeats [their range], which the host's noise does not "
                "move. The ORM tax in instructions is the variant's over its framework's raw cell [the lowest and "
                "highest ratio their repeats give]; beside it, this "
                "run's ORM tax in throughput turned the same way (raw's throughput over the variant's) with its "
                "95% interval. Where the two disagree (the interval does not hold the medians' ratio in "
                "instructions: the variant better or worse in throughput than its instructions say), the "
                "difference holds what instructions do not count (PostgreSQL, waiting, cache "
                "misses, the kernel, the load's concurrency) and what differs between the two runs (the cost run: "
                "one worker, one request at a time).",
                *filter(None, [other_commit(document, summary, [row[0] for row in rows])])],
        header=["cell", "instructions per request", "ORM tax in instructions", "ORM tax in throughput, inverted [95%]",
                "the two"], rows=rows)


def price_text(document: dict, price: dict) -> str | None:
    """A price (a paired throughput ratio, `a` over `b`) in instructions from the published cost runs,
    with its repeats' range, and whether the two agree; None where those runs counted another
    scenario or not both cells."""
    summary = summary_of(document)
    found = pair(summary, price["a"], price["b"]) if summary else None
    if not found:
        return None
    ratio, shown = counted_ratio(*found)
    said = agreement(ratio, price)
    return f"{shown} × the instructions" + (f" ({said})" if said else "")


def beside_profiles(document: dict) -> Section | None:
    """Each profiled cell's py-spy shares beside callgrind's shares of its instructions, from the
    published cost runs (which record them by category): two answers to "where does it go"."""
    summary = summary_of(document)
    counted = summary["cells"] if summary else {}
    rows, names = [], []
    for cell in profiles.profiled(document):
        name, sampled = cell_name(cell), cell["profile"]
        found = counted.get(name, {}).get("categories")
        if sampled.get("reason") or not found:
            continue
        names.append(name)
        total = sum(found.values())
        rows.append([f"{name}: py-spy, share of samples",
                     *[(f"{sampled['by_category'].get(c, 0):.0%}" if c in profiles.CATEGORIES else "n/a")
                       for c in SHOWN]])
        rows.append([f"{name}: callgrind, share of instructions", *[f"{found.get(c, 0) / total:.0%}" for c in SHOWN]])
    if not rows:
        return None
    return Section(
        "profile-instructions", "Where the CPU goes: py-spy's samples beside callgrind's instructions",
        before=["For each profiled cell that the published cost runs counted, the two attributions side by side; "
                "they answer different questions, from different loads. py-spy (this run: the cell's own load, "
                "concurrent) gives each sample of time to the library of the innermost Python frame running, "
                "so the interpreter's work and any C extension called from that frame go to that library, and "
                "C code called back by another C library (a driver's protocol under uvloop) to the Python frame "
                "below it; it has no interpreter or C library category (n/a). Callgrind (the cost run: one "
                "worker, one request at a time) gives each instruction to the machine code that ran it: every "
                "library's pure-Python code to the interpreter, a C extension to its package; its rest is object "
                "files of no known library, where py-spy's is modules of none. Read the two together: a "
                "library's callgrind share is the part of its work done in compiled code of its own.",
                *filter(None, [other_commit(document, summary, names)])],
        header=["cell", *SHOWN], rows=rows)
