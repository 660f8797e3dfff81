"""The docs can say nothing the code or the committed runs no longer say: the CLI reference is
the parser's, the findings are the committed runs', and the site builds with --strict, where a
broken link or anchor fails it."""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess

import pytest
import yaml
from conftest import REPO, dbbench

from runner.base.errors import DbbenchError
from runner.commands import docs
from runner.commands.parser import build_parser
from runner.pages import findings, reference

MKDOCS = REPO / ".venvs" / "docs" / "bin" / "mkdocs"


def test_every_generated_page_is_what_its_sources_give():
    stale = [str(path.relative_to(REPO)) for path in docs.stale()]
    assert not stale, f"run `dbbench docs`: {stale} differ from their sources"
    assert dbbench("docs", "--check").returncode == 0


def test_a_new_option_gets_its_line_in_the_reference_even_without_help():
    parser = build_parser()
    run = next(sub for name, _, sub in reference.subcommands(parser) if name == "run")
    run.add_argument("--brand-new-knob", type=int)
    page = reference.render(parser)
    assert "| `--brand-new-knob BRAND_NEW_KNOB` |  |" in page
    assert page != (REPO / "docs" / "cli.md").read_text(), "the committed reference would be stale"


def test_the_reference_holds_every_subcommand_and_option_of_the_parser_once():
    parser = build_parser()
    page = (REPO / "docs" / "cli.md").read_text()
    for name, _, sub in reference.subcommands(parser):
        heading = f"\n## `dbbench {name}`\n"
        assert page.count(heading) == 1, name
        own = page.split(heading, 1)[1].split("\n## ", 1)[0]  # up to the next subcommand's section
        shown = [action.option_strings[-1] for action in sub._actions if action.option_strings
                 and action.help != argparse.SUPPRESS and not isinstance(action, argparse._HelpAction)]
        for flag in shown:
            assert f"`{flag}" in own, f"dbbench {name} {flag}"


def test_every_option_has_help_text():
    """An option the reference would show with an empty line is an option --help cannot explain."""
    def without_help(parser, prefix):
        found = []
        for name, _, sub in reference.subcommands(parser):
            found += [f"{prefix} {name} {action.option_strings[-1] if action.option_strings else action.dest}"
                      for action in sub._actions if not action.help and not isinstance(action, argparse._HelpAction)
                      and not isinstance(action, argparse._SubParsersAction)]
            found += without_help(sub, f"{prefix} {name}")
        return found
    assert not without_help(build_parser(), "dbbench")


def test_the_readme_findings_are_the_committed_runs_and_name_them():
    readme = (REPO / "README.md").read_text()
    block = readme.split(findings.START, 1)[1].split(findings.END, 1)[0]
    assert block.strip() == findings.block("docs/").strip()
    assert "The ORM tax" in block and "price of each stack choice" in block and "loading strategy" in block
    intros = [line for line in block.splitlines() if line.startswith("**")]
    assert len(intros) == 3 and all("commit " in line and "measured 20" in line for line in intros), \
        "each table names its runs' commit and date"
    with pytest.raises(DbbenchError, match="no findings block"):
        findings.in_readme("# a README without the markers\n")


def build(config, site) -> subprocess.CompletedProcess:
    """Never --quiet: it hides the warnings that --strict counts, and the build passes."""
    return subprocess.run([str(MKDOCS), "build", "--strict", "-f", str(config), "-d", str(site)], cwd=REPO,
                          capture_output=True, text=True, timeout=300, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})


@pytest.fixture(scope="module")
def mkdocs() -> None:
    if not MKDOCS.exists():
        pytest.fail("the docs environment is missing: `make docs-env` builds it (make test does)")


def test_the_site_builds_strictly(mkdocs, tmp_path):
    result = build(REPO / "mkdocs.yml", tmp_path / "site")
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "site" / "cli" / "index.html").exists()
    assert (tmp_path / "site" / "contributing" / "index.html").exists()


@pytest.mark.parametrize("broken", ["[gone](no-such-page.md)", "[gone](method.md#no-such-anchor)"])
def test_a_broken_link_or_anchor_fails_the_build(mkdocs, tmp_path, broken):
    copy = tmp_path / "docs"
    shutil.copytree(REPO / "docs", copy)
    (copy / "index.md").write_text((copy / "index.md").read_text() + f"\n{broken}\n")
    config = yaml.safe_load((REPO / "mkdocs.yml").read_text())
    config["docs_dir"] = str(copy)
    (tmp_path / "mkdocs.yml").write_text(yaml.safe_dump(config))
    result = build(tmp_path / "mkdocs.yml", tmp_path / "site")
    assert result.returncode != 0
    assert "no-such" in result.stderr
