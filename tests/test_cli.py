"""The command line says one thing one way: one spelling per concept on every command, one way
to write a duration, one way to select cells, and a one-line note for an old spelling."""

from __future__ import annotations

import argparse

import pytest
from conftest import dbbench

from runner.cli import build_parser
from runner.commands import COMMANDS, arguments

CELL_COMMANDS = ("run", "verify", "soak", "sweep", "tune", "latency", "faults")
SELECTION = ("--frameworks", "--variants", "--all", "--preset", "--cell")
MEASURING = ("run", "calibrate", "sweep", "tune", "latency")


def options_of(command: str) -> dict[str, argparse.Action]:
    subparsers = next(action for action in build_parser()._actions if isinstance(action, argparse._SubParsersAction))
    parser = subparsers.choices[command]
    return {option: action for action in parser._actions for option in action.option_strings}


def test_every_registered_command_is_a_subcommand_with_help():
    subparsers = next(action for action in build_parser()._actions if isinstance(action, argparse._SubParsersAction))
    assert list(subparsers.choices) == list(COMMANDS)
    assert all(choice.help for choice in subparsers._choices_actions)


@pytest.mark.parametrize("command", CELL_COMMANDS)
def test_cells_are_selected_the_same_way_on_every_command_that_takes_cells(command):
    found = options_of(command)
    assert all(flag in found for flag in SELECTION), [flag for flag in SELECTION if flag not in found]


@pytest.mark.parametrize("command", [*MEASURING, "soak", "serve", "verify"])
def test_the_worker_count_is_workers_everywhere_and_the_old_spelling_is_hidden(command):
    found = options_of(command)
    assert found["--workers"].help and found["--workers"].dest == "workers"
    assert found["--server-cpus"].help == argparse.SUPPRESS and found["--server-cpus"].dest == "workers"


@pytest.mark.parametrize("command", MEASURING)
def test_a_slice_is_slice_and_duration_is_its_hidden_old_spelling(command):
    found = options_of(command)
    assert found["--slice"].help and found["--duration"].help == argparse.SUPPRESS
    assert found["--duration"].dest == "slice"


def test_an_outage_is_outage_on_faults_and_on_run():
    for command in ("faults", "run"):
        assert options_of(command)["--outage"].dest == "outage"
    assert options_of("run")["--fault-seconds"].help == argparse.SUPPRESS


@pytest.mark.parametrize("text, seconds", [("1s", 1), ("500ms", 0.5), ("0.5", 0.5), ("2m", 120), ("90s", 90),
                                           ("1h", 3600), ("330", 330)])
def test_a_duration_is_written_the_same_way_everywhere(text, seconds):
    assert arguments.seconds_of(text) == seconds
    if seconds >= 1:
        assert arguments.duration_arg(text) == seconds
    if seconds <= 3600:
        assert arguments.slice_arg(text) == seconds


def test_quick_says_one_thing_on_every_command_that_has_it():
    helps = {command: options_of(command)["--quick"].help for command in ("run", "sweep", "latency", "cluster")
             if "--quick" in options_of(command)}
    assert {"run", "sweep", "latency"} <= set(helps) and len(set(helps.values())) == 1, helps


def test_every_pool_size_says_its_default():
    for command in ("run", "verify", "faults", "serve", *MEASURING):
        assert "default" in options_of(command)["--pool-size"].help, command


def test_an_old_spelling_works_with_a_one_line_note(capsys):
    parsed = build_parser().parse_args(["run", "--server-cpus", "2", "--fault-seconds", "2s", "--duration", "1s"])
    assert (parsed.workers, parsed.outage, parsed.slice) == (2, 2.0, 1)
    notes = capsys.readouterr().err.strip().splitlines()
    assert notes == ["dbbench: note: --server-cpus is now --workers; the old spelling goes in a later release",
                     "dbbench: note: --fault-seconds is now --outage; the old spelling goes in a later release",
                     "dbbench: note: --duration is now --slice; the old spelling goes in a later release"]


def test_variants_alone_say_which_frameworks_they_kept(capsys):
    parsed = build_parser().parse_args(["verify", "--variants", "raw"])
    chosen = arguments.selected_cells(parsed, every_cell_by_default=True)
    assert {cell.variant.name for cell in chosen} == {"raw"} and {cell.framework.default for cell in chosen} == {True}
    assert "--variants without --frameworks: of the default frameworks (" in capsys.readouterr().err
    assert len(arguments.selected_cells(build_parser().parse_args(["verify"]), every_cell_by_default=True)) > 20


def test_one_cell_is_cell_and_goes_with_nothing_else():
    parsed = build_parser().parse_args(["faults", "--cell", "gin/raw"])
    assert [cell.name for cell in arguments.selected_cells(parsed)] == ["gin/raw"]
    result = dbbench("soak", "--cell", "gin/raw", "--frameworks", "gin")
    assert result.returncode == 2 and result.stderr.strip() == (
        "dbbench: error: --cell names one cell: it cannot go with --frameworks, --variants, --all or --preset")


@pytest.mark.parametrize("command", ["run", "cost", "parity", "verify"])
def test_a_second_cell_is_refused_in_one_line_not_dropped(command):
    """argparse keeps the last of a repeated option: two --cell would run one cell without a word."""
    result = dbbench(command, "--cell", "gin/raw", "--cell", "fastapi/raw")
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert result.stderr.startswith("dbbench: error: --cell given twice: it takes one")
