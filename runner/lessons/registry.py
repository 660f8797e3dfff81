"""Every lesson, in the order a course takes them (the Makefile's LESSONS and docs/lessons list
the same): a lesson is one module in runner/lessons/ that declares LESSON, and one line here."""

from __future__ import annotations

from runner.base.errors import DbbenchError
from runner.lessons import (
    event_loop,
    littles_law,
    n_plus_one,
    orm_tax,
    orm_tax_page_edit,
    pool_size,
    processes,
    what_asyncio_buys,
    where_time_goes,
)
from runner.lessons.engine import Lesson

COURSE = (event_loop, where_time_goes, littles_law, what_asyncio_buys, pool_size, processes, orm_tax,
          orm_tax_page_edit, n_plus_one)
LESSONS = {module.LESSON.name: module.LESSON for module in COURSE}


def lesson(name: str) -> Lesson:
    if name not in LESSONS:
        raise DbbenchError(f"no lesson {name!r} (lessons: {', '.join(LESSONS)})")
    return LESSONS[name]
