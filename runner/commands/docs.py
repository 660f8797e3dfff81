"""dbbench docs: the generated pages (the findings in README.md and docs/findings.md, the committed
stacks run's prices, the CLI reference in docs/cli.md) written again from their sources, or checked
against them."""

from __future__ import annotations

import argparse
from pathlib import Path

from runner.base import paths
from runner.base.console import err
from runner.base.errors import DbbenchError

HELP = ("write the generated pages (README.md's findings, docs/findings.md, docs/stacks/prices.md, docs/cli.md) "
        "from their sources")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 naming each page that differs from what its sources give")


def generated() -> dict[Path, str]:
    """Each generated page and the text its sources give now."""
    from runner.commands.parser import build_parser
    from runner.pages import findings, reference
    from runner.report import prices

    readme = paths.REPO / "README.md"
    if not readme.exists():
        raise DbbenchError("README.md is missing: its findings block is one of the generated pages")
    return {readme: findings.in_readme(readme.read_text()),
            paths.REPO / "docs" / "findings.md": findings.page(),
            findings.STACKS / "prices.md": prices.render(prices.runs_under([str(findings.STACKS)])),
            paths.REPO / "docs" / "cli.md": reference.render(build_parser())}


def stale(pages: dict[Path, str] | None = None) -> list[Path]:
    """The generated pages whose committed text differs from their sources'."""
    return [path for path, text in (pages or generated()).items() if not path.exists() or path.read_text() != text]


def run(args) -> int:
    if args.check:
        found = stale()
        for path in found:
            err.print(f"dbbench: {path.relative_to(paths.REPO)} differs from its sources: run `dbbench docs`")
        return 1 if found else 0
    pages = generated()
    for path in stale(pages):
        path.write_text(pages[path])
        print(f"wrote {path.relative_to(paths.REPO)}")
    return 0
