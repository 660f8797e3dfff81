"""A lesson's claims: the sentences its numbers fill in, each a predicate over its own results.

A claim that holds is stated with the numbers that show it; one that does not is never stated
as a finding: the page says this run did not show it, and why. Every lesson also carries the
claims every page makes by being published (CHECKED_BY_EVERY_LESSON): it was measured from a
committed tree, no point it reads was mostly disturbed, and its throughputs have intervals.
`dbbench lesson NAME --check` exits 1 when any claim of the committed run fails."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from string import Template

from runner.base.errors import DbbenchError
from runner.lessons.toolkit import runs_in
from runner.report import results


@dataclass(frozen=True)
class Shown:
    """A claim's verdict on one run: whether the data shows it, and the numbers that say so."""

    holds: bool
    why: str


@dataclass(frozen=True)
class Claim:
    """`says` is the sentence a page states when `check` holds ($placeholders from the lesson's
    numbers, and $why: the verdict's own numbers); `about` is what it claims, as the page names
    it when this run does not show it."""

    name: str
    about: str
    says: str
    check: Callable[[dict, dict], Shown]


def verdicts(claims: tuple[Claim, ...], document: dict, numbers: dict[str, str]) -> list[tuple[Claim, Shown]]:
    """Every claim judged on the document; a claim whose data is missing does not hold."""
    found = []
    for claim in (*claims, *CHECKED_BY_EVERY_LESSON):
        try:
            verdict = claim.check(document, numbers)
        except (DbbenchError, KeyError, TypeError, ValueError, ZeroDivisionError) as exc:
            verdict = Shown(False, f"the data it needs is missing ({exc})")
        found.append((claim, verdict))
    return found


def fill(judged: list[tuple[Claim, Shown]], numbers: dict[str, str]) -> dict[str, str]:
    """$claim_NAME for each claim (its sentence, or that this run did not show it), and $claims:
    the list of them all, for the page's last section."""
    filled: dict[str, str] = {}
    lines = []
    for claim, verdict in judged:
        if verdict.holds:
            filled[f"claim_{claim.name}"] = Template(claim.says).substitute({**numbers, "why": verdict.why})
            lines.append(f"- shown: {claim.about} ({verdict.why})")
        else:
            filled[f"claim_{claim.name}"] = f"*Not shown by this run:* {claim.about} ({verdict.why})."
            lines.append(f"- **not shown**: {claim.about} ({verdict.why})")
    filled["claims"] = "\n".join(lines)
    return filled


# A point is read only when at most this share of the slices its estimates use were disturbed.
MOST_DISTURBED = 0.5


def disturbed_share(cell: dict) -> tuple[int, int]:
    """(disturbed, all) of the slices a cell's estimates use."""
    used = results.used_slices(cell)
    return sum(1 for piece in used if piece.get("disturbed")), len(used)


def unreadable(*cells: dict) -> str | None:
    """Why a claim may not read these points, if it may not: one failed, or most of the slices
    it would read were disturbed (steal or load outside the measurement)."""
    for cell in cells:
        if not cell.get("clean"):
            return f"{cell['name']} was not measured cleanly"
        disturbed, used = disturbed_share(cell)
        if used and disturbed / used > MOST_DISTURBED:
            return f"{disturbed} of the {used} slices {cell['name']}'s figures use were disturbed"
    return None


def slices_text(document: dict) -> str:
    """How many of the run's slices were disturbed, and how many of those its figures use: every
    page states it."""
    disturbed, every, read, used = results.disturbed_counts(runs_in(document))
    return (f"disturbed slices (CPU steal or load outside the measurement): {disturbed} of {every}, and "
            f"{read} of the {used} its figures use")


def _committed(document: dict, numbers: dict) -> Shown:
    dirty = [(run["metadata"]["project"].get("git_commit") or "?")[:12] for run in runs_in(document)
             if run["metadata"]["project"].get("git_dirty")]
    if dirty:
        return Shown(False, f"commit {dirty[0]} had uncommitted changes")
    commits = {(run["metadata"]["project"].get("git_commit") or "?")[:12] for run in runs_in(document)}
    return Shown(len(commits) == 1, f"commit {', '.join(sorted(commits))}")


def _mostly_clean(document: dict, numbers: dict) -> Shown:
    reasons = [reason for run in runs_in(document) for cell in run["cells"] if (reason := unreadable(cell))]
    if reasons:
        return Shown(False, f"{len(reasons)} points: {reasons[0]}" if len(reasons) > 1 else reasons[0])
    return Shown(True, slices_text(document))


def _intervals(document: dict, numbers: dict) -> Shown:
    cells = [cell for run in runs_in(document) for cell in run["cells"] if cell.get("clean")]
    without = [cell["name"] for cell in cells if not cell.get("rps_ci95")]
    if without:
        return Shown(False, f"{len(without)} of {len(cells)} points have too few rounds for a 95% interval, "
                            f"{without[0]} among them")
    fewest = min((cell["slices_used"] for cell in cells), default=0)
    return Shown(bool(cells), f"every point has one; the fewest slices a point's figures use: {fewest}")


CHECKED_BY_EVERY_LESSON = (
    Claim("committed", "that this page was measured from one committed, clean tree", "", _committed),
    Claim("undisturbed", "that no point this page reads had most of its slices disturbed", "", _mostly_clean),
    Claim("intervals", "that every throughput on this page has its 95% interval", "", _intervals),
)
