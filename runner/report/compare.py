"""dbbench compare: each cell's change between two stored runs, refused where they ran on
different machines or data unless forced."""

from __future__ import annotations

from runner.base.errors import DbbenchError
from runner.report import stats
from runner.report.formatting import cell_name, fmt_rps, md_table
from runner.report.results import estimate_of


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
