"""What the subcommands share on the command line: argument types that refuse bad input in one
line, the option groups (selection, measurement, database, lock), and RunOptions from them."""

from __future__ import annotations

import argparse
import os

from runner.base import paths
from runner.base.console import err
from runner.base.errors import DbbenchError
from runner.db import database, pooler, seeding


class OneLineParser(argparse.ArgumentParser):
    """argparse, but bad input is one line on stderr and exit 2, never a usage dump."""

    def error(self, message: str) -> None:
        self.exit(2, f"dbbench: error: {message} (see 'dbbench {self._sub_name()}--help')\n")

    def _sub_name(self) -> str:
        parts = self.prog.split()[1:]
        return " ".join(parts) + " " if parts else ""


class Once(argparse.Action):
    """An option that names one thing: given twice, refused, where argparse would keep the last
    and drop the first without a word."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        if getattr(namespace, self.dest, None) is not None:
            parser.error(f"{option_string} given twice: it takes one ({self.help})")
        setattr(namespace, self.dest, values)


def users_arg(value: str) -> int:
    try:
        return seeding.check_users(value)
    except DbbenchError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("--users ")) from None


def port_arg(value: str) -> int:
    try:
        port = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a port number, not {value!r}") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"must be between 1 and 65535, not {port}")
    return port


def add_db_url(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db-url",
        help="an external PostgreSQL 13+ (default: $DATABASE_URL, else the embedded cluster)",
    )


def latency_arg(value: str) -> int:
    """Whole milliseconds (toxiproxy's unit), 0 to 10000."""
    try:
        number = int(value.strip().removesuffix("ms"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be whole milliseconds such as 2, not {value!r}") from None
    if not 0 <= number <= 10000:
        raise argparse.ArgumentTypeError(f"must be between 0 and 10000 ms, not {number}")
    return number


def add_db_latency(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db-latency", type=latency_arg, default=0, metavar="MS",
                        help="round-trip time toxiproxy adds between the cells and PostgreSQL (default 0: no proxy)")


def add_lock_args(parser: argparse.ArgumentParser, takes_lock=True) -> None:
    """A command that measures holds its cluster's lock (runner/db/clusterlock.py) while it runs."""
    parser.add_argument("--wait", action="store_true",
                        help="if another command is measuring on the same cluster, wait for it instead of refusing")
    parser.set_defaults(takes_lock=takes_lock)


def csv_list(value: str) -> list[str]:
    items = [item.strip() for item in value.split(",") if item.strip()]
    if not items:
        raise argparse.ArgumentTypeError("expected a comma-separated list of names")
    return items


def ladder_arg(value: str) -> list[int]:
    return [positive_int(item) for item in csv_list(value)]


def pool_arg(value: str) -> int | str:
    return value if value in ("tuned", "rule") else positive_int(value)


def positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, not {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {number}")
    return number


DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}


def seconds_of(value: str) -> float:
    """A duration as every command writes it: 500ms, 1s, 5.5m, 1h, or plain seconds (0.5, 330)."""
    text = value.strip().lower()
    unit = next((unit for unit in ("ms", "s", "m", "h") if text.endswith(unit)), "")
    try:
        return float(text.removesuffix(unit) if unit else text) * DURATION_UNITS.get(unit, 1)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a duration such as 500ms, 1s, 90s or 5m, not {value!r}") from None


def slice_arg(value: str) -> int | float:
    """A slice's length (0.5, 500ms, 1s), within scenarios.slice_problem's range."""
    from runner.base import scenarios

    seconds = seconds_of(value)
    if (problem := scenarios.slice_problem(seconds)) is not None:
        raise argparse.ArgumentTypeError(problem)
    return scenarios.whole_or_fraction(seconds)


def queries_arg(value: str) -> int:
    number = positive_int(value)
    if number > 500:
        raise argparse.ArgumentTypeError(f"must be from 1 to 500 (TechEmpower's bound), not {number}")
    return number


def rate_arg(value: str) -> float:
    """Requests per second at a constant rate: 500, 2.5k."""
    text = value.strip().lower()
    try:
        number = float(text[:-1]) * 1000 if text.endswith("k") else float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be requests per second such as 500 or 2.5k, not {value!r}") from None
    if not 1 <= number <= 1_000_000:
        raise argparse.ArgumentTypeError(f"must be between 1 and 1,000,000 requests per second, not {value!r}")
    return number


SCENARIO_ORDER = ("by-id", "by-username", "page", "edit", "user-posts", "feed", "queries", "mix")


def scenarios_arg(value: str) -> list[str]:
    """--scenario: one name, a comma-separated list, or `all` (every file in scenarios/)."""
    from runner.base import scenarios

    known = scenarios.scenario_names()
    if value == "all":
        return sorted(known, key=lambda name: (SCENARIO_ORDER.index(name) if name in SCENARIO_ORDER else 99, name))
    names = csv_list(value)
    unknown = [name for name in names if name not in known]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown scenario {unknown[0]!r} (known: {', '.join(known)}, or all)")
    return names


def duration_arg(value: str) -> float:
    """A longer time (330, 90s, 5.5m, 1h): 1 s to 7 days."""
    seconds = seconds_of(value)
    if not 1 <= seconds <= 7 * 86400:
        raise argparse.ArgumentTypeError(f"must be between 1 s and 7 days, not {value!r}")
    return seconds


def precision_arg(value: str) -> float:
    """3% or 0.03."""
    text = value.strip()
    try:
        number = float(text.removesuffix("%")) / (100 if text.endswith("%") else 1)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a share such as 3% or 0.03, not {value!r}") from None
    if not 0 < number < 1:
        raise argparse.ArgumentTypeError(f"must be above 0% and below 100%, not {value!r}")
    return number


def calibrate_instances_arg(value: str) -> int:
    """2 to 26: the instances are named A to Z."""
    number = int(value) if value.isdigit() else 0
    if not 2 <= number <= 26:
        raise argparse.ArgumentTypeError(f"must be a whole number of instances from 2 to 26, not {value!r}")
    return number


def confidence_arg(value: str) -> float:
    number = precision_arg(value)
    if number < 0.5:
        raise argparse.ArgumentTypeError(f"must be a confidence level such as 0.95 or 99%, not {value!r}")
    return number


def target_arg(value: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/"):
        raise argparse.ArgumentTypeError(f"must be the base URL of a running cell, such as http://10.0.0.2:8000, "
                                         f"not {value!r}")
    return value.rstrip("/")


def add_preset_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--preset", help="a named selection of cells from apps/presets.toml (stacks: the 2026 "
                                         "choices, with the price of each)")


def add_out(parser: argparse.ArgumentParser) -> None:
    """--out, checked (made, and written to) before the command starts anything."""

    parser.add_argument("--out", help="results directory (default: results/)")
    parser.set_defaults(out_default=paths.REPO / "results")


class RenamedOption(argparse.Action):
    """An old spelling that scripts may still use, kept for one release: it sets the new option,
    is hidden from --help, and says once on stderr what it is now called."""

    def __init__(self, option_strings, dest, new: str, **kwargs):
        self.new = new
        super().__init__(option_strings, dest, help=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        err.print(f"dbbench: note: {option_string} is now {self.new}; the old spelling goes in a later release")
        setattr(namespace, self.dest, values)


def add_renamed(parser: argparse.ArgumentParser, old: str, new: str, **kwargs) -> None:
    parser.add_argument(old, action=RenamedOption, new=new, **kwargs)


def add_selection_args(parser: argparse.ArgumentParser, where: str = "here",
                       default: str = "the default cells (apps/cells.toml)") -> None:
    """Which cells, the same on every command that takes cells: by framework and variant, every
    one (that can run `where`), a preset, or one cell."""
    parser.add_argument("--frameworks", type=csv_list, help=f"comma-separated (default: {default})")
    parser.add_argument("--variants", type=csv_list,
                        help="comma-separated; alone, of the default frameworks, which it names on stderr")
    parser.add_argument("--all", action="store_true", help=f"every cell that can run {where}")
    add_preset_arg(parser)
    parser.add_argument("--cell", action=Once,
                        help="one cell, FRAMEWORK/VARIANT; several: --frameworks and --variants, or --preset")


def selection(args) -> dict:
    """RunOptions' choice of cells, from --cell, --preset, or --frameworks, --variants and --all."""
    from runner.cells import catalog, presets

    frameworks, variants, everything = args.frameworks, args.variants, args.all
    if args.cell:
        if frameworks or variants or everything or args.preset:
            raise DbbenchError("--cell names one cell: it cannot go with --frameworks, --variants, --all or --preset")
        framework, _, variant = args.cell.partition("/")
        catalog.manifest().cell(framework, variant)
        frameworks, variants = [framework], [variant]
    elif variants and not (frameworks or everything or args.preset):
        kept = [name for name, found in catalog.manifest().frameworks.items() if found.default]
        err.print(f"dbbench: --variants without --frameworks: of the default frameworks ({', '.join(kept)})")
    return presets.selection(args.preset, frameworks, variants, everything)


def selected_cells(args, every_cell_by_default: bool = False) -> list:
    """The cells selection() names (with `every_cell_by_default`, every cell where no flag names any)."""
    from runner.cells import catalog

    chosen = selection(args)
    named = args.frameworks or args.variants or args.all or args.preset or args.cell
    everything = chosen["everything"] or (every_cell_by_default and not named)
    cells = catalog.manifest().select(chosen["frameworks"], chosen["variants"], everything)
    return [cell for cell in cells if chosen.get("only") is None or cell.name in chosen["only"]]


def add_workers(parser: argparse.ArgumentParser, default: int = 1) -> None:
    """The worker count, one spelling on every command (it was --server-cpus on some)."""
    parser.add_argument("--workers", type=positive_int, default=default,
                        help=f"worker processes for Python servers, GOMAXPROCS for Go (default {default})")
    add_renamed(parser, "--server-cpus", "--workers", dest="workers", type=positive_int)


def add_shared_measurement_args(parser: argparse.ArgumentParser, budget_default: float | None = None) -> None:
    """What every measuring command shares with `run`, on this host or across hosts (cluster run)."""
    parser.add_argument("--scenario", type=scenarios_arg, default=["by-id"],
                        help="scenarios/NAME.toml; run takes a list or all, one run each (default by-id)")
    parser.add_argument("--connections", type=positive_int, help="wrk connections (default: the scenario's)")
    parser.add_argument("--slice", type=slice_arg,
                        help="each measured slice, 250ms or more, such as 500ms or 1s (default: the scenario's)")
    add_renamed(parser, "--duration", "--slice", dest="slice", type=slice_arg)
    parser.add_argument("--budget", type=duration_arg, default=budget_default,
                        help="time for starting, verifying and measuring, e.g. 330s or 5.5m"
                             + (f" (default {budget_default:g}s)" if budget_default else ""))
    add_workers(parser)
    parser.add_argument("--pool-size", type=pool_arg,
                        help="per worker: a number; `rule` (the connections' share plus 12.5%%); or `tuned` (run "
                             "only, its default: the pool dbbench tune chose for this load and machine, tuned first "
                             "where none is recorded); default elsewhere: the rule")
    parser.add_argument("--seed", type=int, help="the shuffle seed (default: random, recorded)")
    add_out(parser)


def add_run_precision_args(parser: argparse.ArgumentParser) -> None:
    """How long a run measures, and what its scenarios ask: run's own, which a cluster run shares."""
    parser.add_argument("--rounds", type=positive_int, help="exactly this many rounds (no precision target)")
    parser.add_argument("--precision", type=precision_arg,
                        help="target half-width of every ratio's interval, e.g. 3%% (default 3%%)")
    parser.add_argument("--queries", type=queries_arg, default=20,
                        help="lookups per request in the queries scenario, 1 to 500 (TechEmpower's n; default 20)")
    add_quick(parser)


def add_quick(parser: argparse.ArgumentParser) -> None:
    """--quick means one thing on every command that measures: a smoke run, not figures to compare."""
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run, not for comparison: 1 s slices, no tuning, and 60 s as the default "
                             "budget wherever the command spends one (scaled by cells as any default budget)")


def add_measurement_args(parser: argparse.ArgumentParser, budget_default: float | None = None) -> None:
    """What every measuring command on this host shares with `run`: the above, the database, the proxy, the lock."""
    add_shared_measurement_args(parser, budget_default)
    add_db_url(parser)
    add_db_latency(parser)
    parser.add_argument("--proxy", action="store_true",
                        help="toxiproxy in the path even at 0 ms (a latency sweep then compares like with like)")
    parser.add_argument("--pooler", choices=pooler.CHOICES,
                        help="PgBouncer in transaction mode before PostgreSQL, each cell with the driver settings "
                             "apps/cells.toml declares for it (a cell declaring none is skipped with its reason)")
    add_lock_args(parser)


def seeded_url(db_url: str | None) -> tuple[str, int]:
    """The database to use, up and seeded (the embedded one is started if needed), and its users."""
    url, _ = database.database_url(db_url)
    return url, seeding.ensure_seeded(url, log=err.print).users


def cores_here() -> int:
    return len(os.sched_getaffinity(0))


def warn_about_cores(workers: int, flag: str) -> None:
    if workers > cores_here():
        err.print(f"dbbench: warning: {flag} {workers} is more than the {cores_here()} cores here: the workers "
                  "will take turns on them")


def check_server_cpus(server_cpus: int) -> None:
    """A measurement with more server CPUs than the machine has would measure time-sharing."""
    if server_cpus > cores_here():
        raise DbbenchError(f"--workers {server_cpus} is more than the {cores_here()} cores this machine gives "
                           f"us: choose 1 to {cores_here()}")


def run_options(args, *, here: bool = True, **overrides):
    """RunOptions from the options every measuring command shares; `here` when the servers run on
    this host, whose cores --workers is checked against."""
    from pathlib import Path

    from runner.measure.options import RunOptions

    if here:
        check_server_cpus(args.workers)
    if len(args.scenario) > 1 and "scenario" not in overrides:
        command = " ".join(filter(None, (args.command, getattr(args, "cluster_command", None))))
        raise DbbenchError(f"dbbench {command} measures one scenario at a time")
    values = dict(
        scenario=args.scenario[0], connections=args.connections, slice_s=args.slice, budget_s=args.budget,
        server_cpus=args.workers, pool_size=args.pool_size, db_url=args.db_url,
        out=Path(args.out) if args.out else None, seed=args.seed, db_latency_ms=args.db_latency, proxy=args.proxy,
        pooler=getattr(args, "pooler", None),
    )
    values.update(overrides)
    if values["pool_size"] == "tuned":
        raise DbbenchError("--pool-size tuned is for `dbbench run` on this machine: give a number or `rule` here")
    if values["pool_size"] == "rule":
        values["pool_size"] = None
    return RunOptions(**values)
