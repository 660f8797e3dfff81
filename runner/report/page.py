"""The HTML report: one self-contained page built from a stored results document.

The page holds the same sections as results.md (tables.sections), the figures inline as SVG
(figures.py), a few lines of script to sort a table, and styles for screen and print. It asks
no other host for anything, so it opens offline, from a mail attachment or a CI artifact.
"""

from __future__ import annotations

import html
import re
from pathlib import Path
from string import Template

from markdown_it import MarkdownIt

from runner.base.errors import DbbenchError
from runner.report import about, figures, formatting, profiles, tables

TEMPLATE = Path(__file__).with_name("report.html")
# Where each figure goes: into the section that holds its table, else a section of its own.
FIGURE_HOMES = {"throughput": "throughput", "orm-tax": "orm-tax", "cpu": "cpu", "latency": "cells"}
CAPTIONS = {
    "throughput": "Bars coloured by strategy, the reference hatched; the whisker is the 95% interval of the "
                  "median over slices; #n is the rank (= shares it). Failed, skipped and unranked cells say why.",
    "orm-tax": "Each variant as a share of its framework's raw variant (blocked ratio, 95% interval); the dashed "
               "line is parity.",
    "cpu": "CPU microseconds per completed request, stacked: the cell's server, PostgreSQL, and wrk.",
    "latency": "wrk's percentiles are closed-loop: at saturation they understate the tail (coordinated omission).",
    "stability": "Every slice of every cell in the order it was measured: the noise and drift the intervals "
                 "summarize.",
}
inline = MarkdownIt("commonmark", {"html": False}).renderInline


def inline_svg(svg: str, prefix: str, title: str) -> str:
    """matplotlib's standalone SVG made fit to sit in HTML: no XML prolog, DOCTYPE, metadata or
    namespace URIs (HTML knows them), ids prefixed so two figures never share one."""
    svg = svg[svg.index("<svg"):]
    svg = re.sub(r"<metadata>.*?</metadata>\s*", "", svg, flags=re.S)
    svg = re.sub(r'\s+xmlns(:\w+)?="[^"]*"', "", svg)
    svg = re.sub(r'\bid="([^"]+)"', rf'id="{prefix}-\1"', svg)
    svg = re.sub(r'url\(#([^)]+)\)', rf"url(#{prefix}-\1)", svg)
    svg = re.sub(r'href="#([^"]+)"', rf'href="#{prefix}-\1"', svg)
    return svg.replace("<svg", f'<svg role="img" aria-label="{html.escape(title)}"', 1)


def table_html(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f'<th scope="col">{inline(cell)}</th>' for cell in header)
    body = "\n".join("<tr>" + "".join(f"<td>{inline(cell)}</td>" for cell in row) + "</tr>" for row in rows)
    return f'<div class="table"><table class="sortable"><thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody>' \
           '</table></div>'


def figure_html(name: str, svg: str, title: str | None = None, caption: str | None = None) -> str:
    """One figure inline; a run's figures take their title and caption from here."""
    title = title or figures.FIGURES[name][0]
    caption = caption or CAPTIONS[name]
    return (f'<figure id="figure-{name}">{inline_svg(svg, name, title)}'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>")


def section_html(section: formatting.Section, drawn: list[str]) -> str:
    parts = [f'<section id="{section.key}">', f"<h2>{inline(section.title)}</h2>"]
    parts += [f"<p>{inline(paragraph)}</p>" for paragraph in section.before]
    parts += drawn
    if section.rows:
        parts.append(table_html(section.header, section.rows))
    if section.items:
        parts.append("<ul>" + "".join(f"<li>{inline(item)}</li>" for item in section.items) + "</ul>")
    parts += [f'<p class="note">{inline(paragraph)}</p>' for paragraph in section.after]
    return "\n".join(parts + ["</section>"])


def placed_sections(document: dict, svgs: dict[str, str]) -> list[tuple[formatting.Section, list[str]]]:
    """The report's sections with their figures; a figure with no table of its own (stability)
    gets a section, before the verification verdicts."""
    found = [(section, []) for section in tables.sections(document)]
    keys = [section.key for section, _ in found]
    for name, svg in svgs.items():
        home = FIGURE_HOMES.get(name)
        if home in keys:
            found[keys.index(home)][1].append(figure_html(name, svg))
        else:
            at = keys.index("verification") if "verification" in keys else len(found)
            found.insert(at, (formatting.Section(name, figures.FIGURES[name][0]), [figure_html(name, svg)]))
            keys.insert(at, name)
    return found


def render(document: dict, svgs: dict[str, str] | None = None) -> str:
    """The page; `svgs` (name to SVG text) saves drawing the figures twice when they are also
    written as files."""
    if svgs is None:
        svgs = {name: svg.decode() for name, svg in figures.encoded(figures.draw(document), "svg").items()}
    return render_page(about.title_of(document), about.facts(document), placed_sections(document, svgs))


def render_page(title: str, facts: list[tuple[str, str]], placed: list[tuple[formatting.Section, list[str]]]) -> str:
    """The template filled: a header of facts, a table of contents, the sections with their figures."""
    listed = "\n".join(f"<dt>{html.escape(label)}</dt><dd>{inline(text)}</dd>" for label, text in facts)
    contents = "".join(f'<a href="#{section.key}">{inline(section.title)}</a>' for section, _ in placed)
    return Template(TEMPLATE.read_text()).substitute(
        title=html.escape(title), facts=listed, contents=contents,
        sections="\n".join(section_html(section, drawn) for section, drawn in placed),
    )


FORMATS = ("html", *figures.FORMATS)


def write(document: dict, directory: Path, formats: tuple[str, ...] = FORMATS) -> list[Path]:
    """directory/report.html and directory/figures/<name>.svg|png, as asked; each figure is
    drawn once, and the page inlines the same SVG the files hold."""
    drawn = figures.draw(document)
    wanted = [fmt for fmt in figures.FORMATS if fmt in formats or (fmt == "svg" and "html" in formats)]
    encoded = {fmt: figures.encoded(drawn, fmt) for fmt in wanted}
    written = []
    try:
        if "html" in formats:
            page = directory / "report.html"
            directory.mkdir(parents=True, exist_ok=True)
            page.write_text(render(document, {name: svg.decode() for name, svg in encoded["svg"].items()}))
            written.append(page)
        for fmt in (fmt for fmt in figures.FORMATS if fmt in formats):
            (directory / "figures").mkdir(parents=True, exist_ok=True)
            for name, content in encoded[fmt].items():
                path = directory / "figures" / f"{name}.{fmt}"
                path.write_bytes(content)
                written.append(path)
        if "svg" in formats or "html" in formats:
            written += profiles.write_flames(document, directory)
    except OSError as exc:
        raise DbbenchError(f"cannot write the report in {directory}: {exc.strerror or exc}") from None
    return written
