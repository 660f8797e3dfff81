"""Lessons: teaching pages whose every number is filled in from a committed run.

Each lesson lives in docs/lessons/<name>/: `lesson.md.in` (the text, with $placeholders),
the results file it was rendered from, its figure, and `README.md`, the rendered page.
`dbbench lesson NAME --measure` runs the lesson's experiment (what `make lesson-NAME` does)
and renders; without --measure it renders again from the committed results. A number the
text asks for and the results do not hold is an error, never a blank."""

from __future__ import annotations

import dataclasses
import json
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from string import Template

import matplotlib
from matplotlib.figure import Figure

from runner.base import paths
from runner.base.errors import DbbenchError
from runner.experiments import sweep
from runner.lessons import claims
from runner.lessons.toolkit import first_run, runs_in, sweeps_of
from runner.measure.options import RunOptions
from runner.measure.run import Run
from runner.report import figures, formatting, results

LESSONS_DIR = paths.REPO / "docs" / "lessons"


@dataclass(frozen=True)
class LessonSweep:
    """One paired sweep of a lesson that measures several: its label in the text, the parameter
    and values, and the run options it sets (the network path: toxiproxy or not, the ms added)."""

    label: str
    param: str
    values: list[int]
    proxy: bool = False
    db_latency_ms: int = 0
    pool_size: int | None = None
    connections: int | None = None
    variants: tuple[str, ...] | None = None  # of the lesson's cells, these only
    slice_s: int | None = None
    budget_s: float | None = None


# The committed lessons were measured in 1 s slices, and their pages say so; runs moved to
# half-second slices afterwards. A lesson keeps 1 s unless it sets its own.
LESSON_SLICE_S = 1


def as_measured(options: RunOptions, **changes) -> RunOptions:
    return dataclasses.replace(options, **{"slice_s": options.slice_s or LESSON_SLICE_S, **changes})


def run_experiment(options: RunOptions) -> Callable[[Path], Path]:
    return lambda out: Run(as_measured(options, out=out)).execute()


def sweep_experiment(options: RunOptions, param: str, values: list[int]) -> Callable[[Path], Path]:
    return lambda out: sweep.sweep(as_measured(options, out=out), param, values, out=None)[0]


def scenario_experiment(options: RunOptions, scenarios: tuple[str, ...]) -> Callable[[Path], Path]:
    """The same run once per scenario; one file holding every run."""

    def experiment(out: Path) -> Path:
        runs = []
        for scenario in scenarios:
            path = Run(as_measured(options, scenario=scenario, out=out)).execute()
            runs.append(json.loads(path.read_text()))
        target = out / "runs.json"
        results.write_json({"kind": "runs", "runs": runs}, target)
        return target

    return experiment


def several_sweeps(options: RunOptions, parts: list[LessonSweep]) -> Callable[[Path], Path]:
    """Paired sweeps one after the other; one file holding every sweep, written after each."""

    def experiment(out: Path) -> Path:
        document = {"kind": "sweeps", "sweeps": []}
        target = out / "sweeps.json"
        for part in parts:
            settings = dict(proxy=part.proxy, db_latency_ms=part.db_latency_ms, pool_size=part.pool_size,
                            **({"connections": part.connections} if part.connections is not None else {}))
            narrowed = {"variants": list(part.variants)} if part.variants else {}
            timing = {name: value for name, value in (("slice_s", part.slice_s), ("budget_s", part.budget_s))
                      if value is not None}
            found = sweep.sweep(as_measured(options, out=out, **settings, **timing, **narrowed), part.param,
                                part.values, out=None)[1]
            document["sweeps"].append({"label": part.label, "param": part.param, "values": part.values,
                                       **settings, "sweep": found})
            results.write_json(document, target)
        return target

    return experiment


@dataclass(frozen=True)
class Lesson:
    name: str
    question: str
    experiment: Callable[[Path], Path]  # runs it with its results under the directory given; the results file
    numbers: Callable[[dict], dict[str, str]]
    figure: Callable[[dict], Figure]
    claims: tuple[claims.Claim, ...] = ()
    answer: str = ""  # the claim whose sentence answers the question, for the index
    read_first: tuple[str, ...] = ()  # lessons this one builds on, by name

    @property
    def directory(self) -> Path:
        return LESSONS_DIR / self.name


def measure(chosen: Lesson) -> Path:
    """The lesson's experiment, run now; its results file replaces the committed one."""
    with tempfile.TemporaryDirectory(prefix=f"dbbench-lesson-{chosen.name}-") as tmp:
        path = chosen.experiment(Path(tmp))
        chosen.directory.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, chosen.directory / "results.json")
    return chosen.directory / "results.json"


def load(source: Path) -> dict:
    """A run's results file, or a sweep's (whose points are runs' results)."""
    return results.load_any(source)


def shown(path: Path) -> str:
    return str(path.relative_to(paths.REPO)) if path.is_relative_to(paths.REPO) else str(path)


def committed_results(chosen: Lesson) -> dict:
    source = chosen.directory / "results.json"
    if not source.exists():
        raise DbbenchError(f"lesson {chosen.name}: no {shown(source)}: "
                           f"run `make lesson-{chosen.name}`")
    return load(source)


def judge(chosen: Lesson, document: dict) -> tuple[dict[str, str], list[tuple[claims.Claim, claims.Shown]]]:
    """The lesson's numbers and every claim's verdict on them."""
    numbers = chosen.numbers(document)
    meta = first_run(document)["metadata"]
    numbers.update(
        question=chosen.question, make=f"make lesson-{chosen.name}",
        run=f"{meta['run']['started_at']}, commit {formatting.commit_text(meta['project'], 12)}, "
            f"{meta['machine']['cpu_count']} × {meta['machine']['cpu_model']}, "
            f"{', '.join(dict.fromkeys(run['metadata']['run']['scenario'] for run in runs_in(document)))}, "
            f"{connections_text(document)}; {claims.slices_text(document)}",
    )
    numbers["took"] = took(document)
    judged = claims.verdicts(chosen.claims, document, numbers)
    numbers.update(claims.fill(judged, numbers))
    return numbers, judged


def connections_text(document: dict) -> str:
    """The connections each run of the lesson held wrk at; a connections sweep's, each of its points'."""
    is_sweep = document.get("kind") in ("sweep", "sweeps")
    found: set[int] = set()
    for part in sweeps_of(document) if is_sweep else [document]:
        if is_sweep and part.get("param") == "connections":
            found |= set(part["values"])
        else:
            runs = sweep.runs(part) if is_sweep else runs_in(part)
            found |= {run["metadata"]["run"]["connections"] for run in runs}
    found = sorted(found)
    return f"{formatting.listed([f'{n:,}' for n in found])} connection{'' if found == [1] else 's'}"


def took(document: dict) -> str:
    """How long the lesson's measurement ran, from its first run's start to its last one's end."""
    def instant(text: str | None) -> datetime | None:
        return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None

    runs = runs_in(document)
    starts = [instant(run["metadata"]["run"].get("started_at")) for run in runs]
    ends = [instant(run["metadata"]["run"].get("finished_at")) for run in runs]
    if None in starts or None in ends:
        return "a time its results do not record"
    return f"{(max(ends) - min(starts)).total_seconds() / 60:.0f} minutes"


def check(chosen: Lesson) -> list[tuple[claims.Claim, claims.Shown]]:
    """Every claim of the committed run, judged again (dbbench lesson NAME --check)."""
    return judge(chosen, committed_results(chosen))[1]


CLAIMS_SECTION = "\n\n## Every claim, checked against this run\n\n$claims\n"


def render(chosen: Lesson) -> Path:
    """README.md and figure.svg|png of the lesson, from its committed results file; the page ends
    with every claim's verdict."""
    source = chosen.directory / "results.json"
    document = committed_results(chosen)
    numbers, _ = judge(chosen, document)
    template = Template((chosen.directory / "lesson.md.in").read_text().rstrip("\n") + CLAIMS_SECTION)
    try:
        text = template.substitute(numbers)
    except KeyError as exc:
        raise DbbenchError(f"lesson {chosen.name}: the text asks for ${exc.args[0]}, which the results in "
                           f"{shown(source)} do not give") from None
    with matplotlib.rc_context(figures.STYLE):
        drawn = figures.guarded(f"lesson {chosen.name}'s figure", lambda: chosen.figure(document), None)
    for fmt, content in figures.encoded({"figure": drawn} if drawn else {}, "svg").items():
        (chosen.directory / f"{fmt}.svg").write_bytes(content)
    for fmt, content in figures.encoded({"figure": drawn} if drawn else {}, "png").items():
        (chosen.directory / f"{fmt}.png").write_bytes(content)
    page = chosen.directory / "README.md"
    page.write_text(text)
    return page
