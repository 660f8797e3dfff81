"""dbbench report: a stored results file rendered again, in any format."""

from __future__ import annotations

import argparse
import sys

from runner.base.errors import DbbenchError

HELP = "render a stored results file again"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("results", help="a results.json, or its directory")
    parser.add_argument("--format", choices=("md", "csv", "json", "html", "png", "svg"), default="md",
                        help="md, csv, json: printed; html: report.html; png, svg: figures/ (default: md)")
    parser.add_argument("--out", help="directory for html, png and svg (default: the results file's directory)")


def run(args) -> int:
    """md, csv and json to standard output; html, png and svg as files beside the results
    (or in --out): report.html, figures/<name>.png|svg."""
    from pathlib import Path

    from runner.report import page, results, tables

    if composite_report(args):
        return 0
    document = results.load(args.results)
    if args.format not in page.FORMATS:
        if args.out:
            raise DbbenchError(f"--out is for html, png and svg; {args.format} goes to standard output")
        sys.stdout.write(tables.render(document, args.format))
        return 0
    source = Path(args.results)
    directory = Path(args.out) if args.out else (source if source.is_dir() else source.parent)
    for path in page.write(document, directory, formats=(args.format,)):
        print(path)
    return 0


def composite_report(args) -> bool:
    """A latency.json or sweep.json (a file, or the directory holding it) renders through its own
    module: md or json to standard output; html, png and svg write its page and figures."""
    import json
    from pathlib import Path

    from runner.experiments import latency, sweep
    from runner.report import page, results

    source = Path(args.results)
    for name, module in (("latency.json", latency), ("sweep.json", sweep)):
        path = source / name if source.is_dir() else source
        if path.name != name or not path.exists():
            continue
        document = results.load_any(path)
        if args.format == "md":
            sys.stdout.write(module.render(document))
        elif args.format == "json":
            sys.stdout.write(json.dumps(document, indent=2) + "\n")
        elif args.format in page.FORMATS:
            directory = Path(args.out) if args.out else path.parent
            module.write_report(document, directory)
            print(directory / "report.html")
        else:
            raise DbbenchError(f"{name}: --format {args.format} is for a run's results.json; use md, json or html")
        return True
    return False
