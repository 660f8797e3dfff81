"""docs/lessons/README.md: the lessons in the order a course takes them, each with its question,
what to read first, how long its committed run took to measure, and the one-line answer that
run gives (its answering claim, stated only where its data shows it)."""

from __future__ import annotations

from pathlib import Path

from runner.lessons import engine
from runner.lessons.registry import COURSE, LESSONS

INDEX_TITLE = "# Lessons"
INTRO = """Teaching pages on asyncio throughput against a real database. Every number on a page is
filled in from the run committed beside it, and every sentence those numbers fill in is a
claim checked against that run: one its data does not show is printed as not shown, never as
a finding (`dbbench lesson NAME --check`). `make lessons` measures them all again, in this
order, on one machine; `make lesson-NAME` measures one."""


def title_of(lesson: engine.Lesson) -> str:
    first = (lesson.directory / "lesson.md.in").read_text().splitlines()[0]
    return first.removeprefix("# ").strip()


def answer_of(lesson: engine.Lesson, numbers: dict | None = None, judged: list | None = None) -> str:
    """The lesson's one-line answer: its answering claim, filled in from its committed run (where
    that run does not show it, the claim says so)."""
    if numbers is None or judged is None:
        numbers, judged = engine.judge(lesson, engine.committed_results(lesson))
    verdicts = {claim.name for claim, _ in judged}
    return numbers[f"claim_{lesson.answer}"] if lesson.answer in verdicts else "(no answering claim declared)"


def entry(position: int, lesson: engine.Lesson) -> str:
    """One lesson's lines of the index, from its committed run."""
    numbers, judged = engine.judge(lesson, engine.committed_results(lesson))
    failing = [claim.name for claim, verdict in judged if not verdict.holds]
    first = ", ".join(f"[{title_of(LESSONS[name])}]({name}/README.md)" for name in lesson.read_first) or "nothing"
    return "\n".join([
        f"{position}. **[{title_of(lesson)}]({lesson.name}/README.md)** (`make lesson-{lesson.name}`)",
        f"   - Question: {lesson.question}",
        f"   - Read first: {first}",
        f"   - Its committed run took {numbers['took']} to measure; claims not shown by it: "
        f"{', '.join(failing) if failing else 'none'}",
        f"   - Answer: {answer_of(lesson, numbers, judged)}",
    ])


def render_index() -> Path:
    """docs/lessons/README.md from every lesson's committed run."""
    lessons = [module.LESSON for module in COURSE]
    text = "\n\n".join([INDEX_TITLE, INTRO, *(entry(position, lesson)
                                               for position, lesson in enumerate(lessons, start=1))]) + "\n"
    target = engine.LESSONS_DIR / "README.md"
    target.write_text(text)
    return target
