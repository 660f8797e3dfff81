"""dbbench calibrate: an A/A test, one cell started twice or more; the noise floor of this machine."""

from __future__ import annotations

import argparse
import sys

from runner.base.console import err
from runner.cells import catalog
from runner.commands import arguments
from runner.commands.arguments import run_options

HELP = "A/A test: one cell twice (or --instances N times); the noise floor of this machine"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cell", default="fastapi/raw", help="FRAMEWORK/VARIANT (default fastapi/raw)")
    parser.add_argument("--instances", type=arguments.calibrate_instances_arg, default=2,
                        help="how many times to start the cell (default 2; more asks whether two starts of one "
                             "cell can differ by more than the slices' noise)")
    parser.add_argument("--confidence", type=arguments.confidence_arg, default=0.95,
                        help="level of the A/A interval (default 0.95)")
    arguments.add_measurement_args(parser, budget_default=90)


def run(args) -> int:
    """An A/A test: one cell started twice or more, measured as that many cells; every ratio
    between them must contain 1."""
    from runner.experiments import calibrate
    from runner.measure.run import Run, execute
    from runner.report import results

    framework, _, variant = args.cell.partition("/")
    catalog.manifest().cell(framework, variant)
    options = run_options(args, frameworks=[framework], variants=[variant], instances=args.instances,
                          spend_budget=True)
    runner = Run(options)
    code = execute(runner)
    if code is not None:
        return code
    found = calibrate.analyse(results.load(runner.results_path), args.confidence)
    sys.stdout.write(calibrate.render(found, args.cell, runner.plan.slice_s))
    err.print(f"results: {runner.results_path}")
    return 0 if found.contains_one else 1
