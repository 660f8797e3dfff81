"""docs/cli.md: every subcommand and option of `dbbench`, once, rendered from the parser itself.

The parser is passed in (runner/commands/parser.py builds it) so that this page and
`dbbench --help` come from the same declarations; an option added without help text still
gets its line, with its metavar, so a test comparing the page with the parser catches it."""

from __future__ import annotations

import argparse

TITLE = "# The command line: `dbbench`"
INTRO = """Every subcommand and option, generated from the argument parser (`dbbench docs` writes this
page and `dbbench docs --check` fails when it differs from the parser), so it says what
`dbbench --help` says. `dbbench` is installed into `.venvs/runner` (`.venvs/runner/bin/dbbench`,
or `python -m runner`). Bad input gets one line on stderr and a non-zero exit."""


def subcommands(parser: argparse.ArgumentParser) -> list[tuple[str, str, argparse.ArgumentParser]]:
    """(name, help, parser) of each subcommand, in the order `--help` lists them."""
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help or "" for choice in action._choices_actions}
            found += [(name, helps.get(name, ""), sub) for name, sub in action.choices.items()]
    return found


def help_text(parser: argparse.ArgumentParser, action: argparse.Action) -> str:
    """The option's help as --help prints it (%(default)s and the like filled in), on one line."""
    if not action.help:
        return ""
    return " ".join(parser._get_formatter()._expand_help(action).split())


def invocation(action: argparse.Action) -> str:
    """`--budget BUDGET`, `-i, --inventory INVENTORY`, or a positional's name."""
    if not action.option_strings:
        return f"`{action.metavar or action.dest}`"
    if action.nargs == 0:
        return ", ".join(f"`{flag}`" for flag in action.option_strings)
    metavar = action.metavar or (action.dest.upper() if not action.choices else
                                 "{" + ",".join(map(str, action.choices)) + "}")
    return ", ".join(f"`{flag} {metavar}`" for flag in action.option_strings)


def escaped(text: str) -> str:
    """A table cell: pipes would end the cell, and <time> would be taken for an HTML tag."""
    return text.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def options_table(parser: argparse.ArgumentParser) -> list[str]:
    shown = [action for action in parser._actions if action.help != argparse.SUPPRESS
             and not isinstance(action, argparse._HelpAction | argparse._SubParsersAction)]
    if not shown:
        return ["No options."]
    return ["| argument | what it does |", "|---|---|",
            *(f"| {escaped(invocation(action))} | {escaped(help_text(parser, action))} |" for action in shown)]


def usage(parser: argparse.ArgumentParser) -> str:
    return " ".join(parser.format_usage().removeprefix("usage:").split())


def section(name: str, summary: str, parser: argparse.ArgumentParser, level: int) -> list[str]:
    """One subcommand: its summary, usage and options, then its own subcommands a level down."""
    lines = [f"{'#' * level} `{name}`", "", escaped(summary[:1].upper() + summary[1:]) + "." if summary else "", "",
             "```text", usage(parser), "```", "", *options_table(parser), ""]
    for sub_name, sub_help, sub in subcommands(parser):
        lines += section(f"{name} {sub_name}", sub_help, sub, level + 1)
    return lines


def render(parser: argparse.ArgumentParser) -> str:
    names = subcommands(parser)
    lines = [TITLE, "", INTRO, "", "| command | what it does |", "|---|---|",
             *(f"| [`dbbench {name}`](#dbbench-{name}) | {escaped(summary)} |" for name, summary, _ in names), ""]
    for name, summary, sub in names:
        lines += section(f"dbbench {name}", summary, sub, 2)
    return "\n".join(line for line in lines).rstrip() + "\n"
