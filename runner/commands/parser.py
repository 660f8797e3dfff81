"""The dbbench argument parser, built from the registry: the CLI parses with it, and the docs'
CLI reference (runner/pages/reference.py) is rendered from it, so neither can drift."""

from __future__ import annotations

import argparse
import importlib

from runner.commands import COMMANDS
from runner.commands.arguments import OneLineParser

DESCRIPTION = "The dbbench command line: the subcommands of runner/commands, one error path."


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="dbbench", description=DESCRIPTION)
    commands = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(f"runner.commands.{module_name}")
        sub = commands.add_parser(name, help=module.HELP)
        if hasattr(module, "run"):
            sub.set_defaults(func=module.run)
        module.add_arguments(sub)
    return parser
