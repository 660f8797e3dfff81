"""The dbbench command line: one small function per subcommand, one error path."""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from runner.base import supervise
from runner.base.errors import DbbenchError
from runner.cells import builds, catalog, lifecycle, presets
from runner.db import database, proxy, roles

if TYPE_CHECKING:
    from runner.verify.verifier import VerdictsFile

err = Console(stderr=True, highlight=False, markup=False, soft_wrap=True)


class OneLineParser(argparse.ArgumentParser):
    """argparse, but bad input is one line on stderr and exit 2, never a usage dump."""

    def error(self, message: str) -> None:
        self.exit(2, f"dbbench: error: {message} (see 'dbbench {self._sub_name()}--help')\n")

    def _sub_name(self) -> str:
        parts = self.prog.split()[1:]
        return " ".join(parts) + " " if parts else ""


def users_arg(value: str) -> int:
    try:
        return database.check_users(value)
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


def add_lock_args(parser: argparse.ArgumentParser, measures=True) -> None:
    """A command that measures holds its cluster's lock (runner/db/clusterlock.py) while it runs."""
    parser.add_argument("--wait", action="store_true",
                        help="if another command is measuring on the same cluster, wait for it instead of refusing")
    parser.set_defaults(measures=measures)


def cmd_db_up(args) -> int:
    exposure = database.Exposure.parse(args.listen, args.allow or []) if args.listen else None
    if args.allow and not args.listen:
        raise DbbenchError("--allow goes with --listen ADDR: the address the allowed hosts reach")
    if args.port is not None or exposure is not None:
        if args.db_url or os.environ.get("DATABASE_URL"):
            raise DbbenchError("--port and --listen are for the embedded cluster; they cannot go with --db-url or "
                               "DATABASE_URL")
        cluster = database.EmbeddedCluster.default()
        url, embedded = cluster.up(args.port, exposure), True
    else:
        url, embedded = database.database_url(args.db_url)
    info = database.ensure_seeded(url, args.users, log=err.print)
    where = "embedded cluster" if embedded else "external server"
    verb = "seeded" if info.seeded else "already seeded"
    err.print(f"{where}: {info.users:,} users and {info.posts:,} posts {verb}, checksum {info.checksum}")
    if exposure is not None:
        err.print(f"listening on {exposure.address} for {', '.join(exposure.allowed)} with scram-sha-256; "
                  f"the password is in {cluster.password_file} (readable by its owner alone)")
        print(cluster.exposed_url(exposure))
        return 0
    print(database.mask_url(url) if not embedded else url)
    return 0


def cmd_db_seed(args) -> int:
    url, _ = database.database_url(args.db_url)
    err.print(f"seeding {args.users:,} users and their posts into {database.mask_url(url)} ...")
    info = database.seed(url, args.users, force=True)
    print(f"posts {info.posts} checksum {info.posts_checksum}")
    print(f"checksum {info.checksum}")
    return 0


def cmd_db_down(args) -> int:
    cluster = database.EmbeddedCluster.default()
    if not cluster.is_initialized():
        print("no embedded cluster")
        return 0
    print("stopped" if cluster.stop() else "not running")
    return 0


def cmd_db_status(args) -> int:
    status = database.EmbeddedCluster.default().status()
    for key, value in status.items():
        print(f"{key}: {value}")
    if status["running"]:
        seed = database.current_seed(status["url"])
        print(f"seed: {f'{seed.users} users, checksum {seed.checksum}' if seed else 'none'}")
    return 0


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


def slice_arg(value: str) -> int | float:
    """Seconds, whole or not (0.5), within scenarios.slice_problem's range."""
    from runner.base import scenarios
    try:
        seconds = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be seconds, such as 1 or 0.5, not {value!r}") from None
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


def seeded_url(db_url: str | None) -> tuple[str, int]:
    """The database to use, up and seeded (the embedded one is started if needed), and its users."""
    url, _ = database.database_url(db_url)
    return url, database.ensure_seeded(url, log=err.print).users


def cmd_list(args) -> int:
    table = Table("framework", "variant", "strategy", "server", "runs here", box=None)
    legacy = {}
    for cell in catalog.manifest().cells():
        ok, detail = builds.availability(cell)
        if cell.legacy:
            legacy.setdefault(cell.legacy, []).append(cell.name)
        table.add_row(
            cell.framework.name, cell.variant.name + (" (legacy)" if cell.legacy else ""), cell.variant.strategy,
            cell.framework.server, escape(("yes: " if ok else "no: ") + detail),
        )
    console = Console(width=200)
    console.print(table)
    for why, names in legacy.items():
        console.print(escape(f"legacy ({len(names)} cells): {why}"))
    return 0


def cmd_serve(args) -> int:
    cell = catalog.manifest().cell(args.framework, args.variant)
    ok, detail = builds.availability(cell)
    if not ok:
        raise DbbenchError(f"{cell.name} cannot run here: {detail}")
    if not database.port_is_free(args.port):
        raise DbbenchError(f"port {args.port} on 127.0.0.1 is in use: choose another with --port")
    warn_about_cores(args.workers, "--workers")
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        err.print(f"dbbench: serving on {args.host}: the service is reachable from the network, not only this host")
    url, users = seeded_url(args.db_url)
    pool = args.pool_size or catalog.pool_size_for(args.connections, args.workers)
    process = lifecycle.CellProcess(cell, port=args.port, workers=args.workers, pool_size=pool, log_path=None,
                                host=args.host, users=users)
    log = catalog.paths.state_home() / "logs" / "serve-toxiproxy.log"
    with proxy.between(url, args.db_latency, log) as (cell_url, _), process:
        process.start(cell_url)
        try:
            process.wait_ready()
            added = f", +{args.db_latency} ms per round trip through toxiproxy" if args.db_latency else ""
            err.print(
                f"serving {cell.name} on http://{args.host}:{args.port}/users/1 ({args.workers} worker(s), "
                f"pool {pool} each, database {database.mask_url(url)}{added}); Ctrl-C stops it"
            )
            process.process.wait()
        except KeyboardInterrupt:
            err.print(f"stopping {cell.name} ...")
            raise
    raise DbbenchError(f"{cell.name} exited with code {process.process.returncode}")


def cmd_verify(args) -> int:
    from pathlib import Path

    from runner.base import scenarios
    from runner.verify import verifier

    selected = catalog.manifest().select(args.frameworks, args.variants, everything=args.frameworks is None)
    warn_about_cores(args.workers, "--workers")
    scenarios = [scenarios.load_scenario(name) for name in args.scenario]
    endpoints = tuple(e for e in scenarios.ENDPOINTS if any(e in scenario.endpoints for scenario in scenarios))
    weights = scenarios[0].endpoint_weights if len(scenarios) == 1 else None
    url, users = seeded_url(args.db_url)
    kept = verifier.VerdictsFile(Path(args.json), {
        "kind": "verify", "scenarios": args.scenario, "endpoints": list(endpoints),
        "database": database.mask_url(url), "cells": {}}) if args.json else None
    with proxy.between(url, args.db_latency, catalog.paths.state_home() / "logs" / "verify-toxiproxy.log") as (
            cell_url, _):
        failed = verify_cells(selected, url, cell_url, args, endpoints, weights, users, kept)
    return 1 if failed else 0


def verify_cells(selected, url: str, cell_url: str, args, endpoints: tuple[str, ...],
                 weights: dict[str, float] | None, users: int, kept: VerdictsFile | None = None) -> int:
    """Verify each cell in turn, print the table (and keep each verdict, with --json); the
    number that did not pass."""
    table = Table("cell", "verdict", "statements per request / first failure", box=None)
    failed = 0

    def row(name: str, verdict: str, detail: str, found=None) -> None:
        style = {"pass": "green", "FAIL": "red", "skipped": "yellow"}[verdict]
        detail = database.scrub(detail, url)
        table.add_row(name, f"[{style}]{verdict}[/]", escape(detail))
        if kept is not None:
            kept.add(name, verdict, detail, found)

    for cell in selected:
        ok, detail = builds.availability(cell)
        if not ok:
            row(cell.name, "skipped", detail)
            failed += 1
            continue
        unserved = cell.unserved(endpoints)
        if unserved:
            row(cell.name, "skipped", unserved)
            failed += 1
            continue
        if cell.redundant(endpoints):
            row(cell.name, "skipped", cell.redundant(endpoints))
            continue
        err.print(f"verifying {cell.name} ...")
        try:
            verdict = verify_cell(cell, url, cell_url, args, endpoints, weights, users)
        except DbbenchError as exc:
            row(cell.name, "FAIL", str(exc))
            failed += 1
            continue
        if verdict.ok:
            shown = ", ".join(f"{k} {v:g}" for k, v in verdict.statements_per_request.items()) or "; ".join(
                f"{endpoint}: " + ", ".join(f"{k} {v:g}" for k, v in figures.items())
                for endpoint, figures in verdict.by_endpoint.items())
            if verdict.round_trip_ms is not None:
                shown += f"; lookup p50 {verdict.round_trip_ms:.1f} ms (+{args.db_latency} ms round trip)"
            row(cell.name, "pass", shown, verdict)
        else:
            row(cell.name, "FAIL", verdict.first_failure or "", verdict)
            failed += 1
    Console(width=200).print(table)
    return failed


def verify_cell(cell, url: str, cell_url: str, args, endpoints: tuple[str, ...], weights: dict[str, float] | None,
                users: int):
    """Start one cell on a free port (connected through `cell_url`), verify the endpoints
    against the database at `url`, stop it."""
    from runner.verify import verifier

    process = lifecycle.CellProcess(
        cell, port=database.free_port(), workers=args.workers, pool_size=args.pool_size,
        log_path=catalog.paths.state_home() / "logs" / f"verify-{cell.framework.name}-{cell.variant.name}.log",
        users=users,
    )
    login = roles.login_for(url, cell_url, cell.name)
    with process:
        process.start(login.url)
        process.wait_ready()
        return verifier.verify_running(process, url, login, endpoints=endpoints, weights=weights,
                                           db_latency_ms=args.db_latency)


def cores_here() -> int:
    return len(os.sched_getaffinity(0))


def warn_about_cores(workers: int, flag: str) -> None:
    if workers > cores_here():
        err.print(f"dbbench: warning: {flag} {workers} is more than the {cores_here()} cores here: the workers "
                  "will take turns on them")


def check_server_cpus(server_cpus: int) -> None:
    """A measurement with more server CPUs than the machine has would measure time-sharing."""
    if server_cpus > cores_here():
        raise DbbenchError(f"--server-cpus {server_cpus} is more than the {cores_here()} cores this machine gives "
                           f"us: choose 1 to {cores_here()}")


def run_options(args, *, here: bool = True, **overrides):
    """RunOptions from the options every measuring command shares; `here` when the servers run on
    this host, whose cores --server-cpus is checked against."""
    from pathlib import Path

    from runner.measure.run import RunOptions

    if here:
        check_server_cpus(args.server_cpus)
    values = dict(
        scenario=args.scenario[0], connections=args.connections, slice_s=args.slice, budget_s=args.budget,
        server_cpus=args.server_cpus, pool_size=args.pool_size, db_url=args.db_url,
        out=Path(args.out) if args.out else None, seed=args.seed, db_latency_ms=args.db_latency, proxy=args.proxy,
    )
    values.update(overrides)
    if values["pool_size"] == "tuned":
        raise DbbenchError("--pool-size tuned is for `dbbench run` on this machine: give a number or `rule` here")
    if values["pool_size"] == "rule":
        values["pool_size"] = None
    return RunOptions(**values)


def execute(runner) -> int | None:
    """Run; on Ctrl-C or SIGTERM show what was kept and return the exit code (None when done)."""
    from runner.report import results, tables

    try:
        runner.execute()
    except KeyboardInterrupt as exc:
        if runner.document is not None and runner.results_path.exists():
            err.print(f"interrupted: finished slices kept in {runner.results_path}")
            print(tables.render_markdown(results.load(runner.results_path)))
        return supervise.exit_code_of(exc)
    return None


def remote_target(args) -> None:
    """--target measures one cell already serving elsewhere (--cell), verified against the
    database it uses (--db-url): check the combination, and turn --cell into the selection."""
    if args.cell:
        framework, _, variant = args.cell.partition("/")
        catalog.manifest().cell(framework, variant)
        if args.frameworks or args.variants or args.all:
            raise DbbenchError("--cell names one cell: it cannot go with --frameworks, --variants or --all")
        args.frameworks, args.variants = [framework], [variant]
    if args.target is None:
        return
    if not args.cell:
        raise DbbenchError("--target needs --cell FRAMEWORK/VARIANT: the cell serving at that URL")
    if not (args.db_url or os.environ.get("DATABASE_URL")):
        raise DbbenchError("--target needs --db-url (or DATABASE_URL): the database the remote cell uses, "
                           "which verification reads")
    if args.db_latency or args.fault or args.proxy:
        raise DbbenchError("--db-latency and --fault put a proxy in front of cells started here; a --target cell "
                           "is not")


def target_arg(value: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/"):
        raise argparse.ArgumentTypeError(f"must be the base URL of a running cell, such as http://10.0.0.2:8000, "
                                         f"not {value!r}")
    return value.rstrip("/")


def cmd_run(args) -> int:
    """One run per scenario, one after the other, each with its own results directory."""
    from runner.measure.run import Run
    from runner.report import results, tables

    remote_target(args)
    for number, scenario in enumerate(args.scenario, start=1):
        if len(args.scenario) > 1:
            err.print(f"scenario {number} of {len(args.scenario)}: {scenario}")
        tuned = args.pool_size == "tuned" and not args.target
        chosen = presets.selection(args.preset, args.frameworks, args.variants, args.all)
        options = run_options(args, scenario=scenario, **chosen, rounds=args.rounds, precision=args.precision,
                              users=args.users, quick=args.quick, target=args.target, fault=args.fault,
                              fault_s=args.fault_seconds, rate=args.rate, queries_n=args.queries,
                              **({"pool_size": None} if args.pool_size == "tuned" else {}))
        if tuned:
            from runner.experiments import tune

            options = tune.with_tuned_pools(options, log=err.print, budget_s=args.tune_budget,
                                            no_tuning=why_not_tuned(args))
        runner = Run(options)
        code = execute(runner)
        if code is not None:
            return code
        print(tables.render_markdown(results.load(runner.results_path)))
        err.print(f"results: {runner.results_path} (and results.md, report.html and figures/ beside it)")
    return 0


def why_not_tuned(args) -> str | None:
    """Why a run that uses tuned pools does not tune its untuned cells first, or None."""
    if args.quick:
        return "a --quick run does not tune"
    if args.rate:
        return "a constant-rate run does not tune"
    if args.preset and not presets.preset(args.preset).tune:
        return f"preset {args.preset} does not tune: `dbbench tune --preset {args.preset}` records its pools"
    return None


def cmd_sweep(args) -> int:
    """The cells at each value of one parameter, paired where it can be; one sweep.json, its report
    and figures."""
    from runner.experiments import sweep

    param, values = sweep.parse_param(args.param)
    if len(args.scenario) > 1:
        raise DbbenchError("a sweep measures one scenario at a time")
    given = {"connections": args.connections, "pool-size": args.pool_size, "db-latency": args.db_latency or None,
             "server-cpus": args.server_cpus if args.server_cpus != 1 else None, "rate": None}
    if given[param] is not None:
        raise DbbenchError(f"--param {param}=... sets --{param}: give it in one place")
    if param == "server-cpus":
        check_server_cpus(max(values))
    options = run_options(args, frameworks=args.frameworks, variants=args.variants, everything=args.all,
                          rounds=args.rounds, precision=args.precision, quick=args.quick)
    path, document = sweep.sweep(options, param, values, out=None)
    print(sweep.render(document))
    err.print(f"results: {path} (and report.html and figures/ beside it)")
    return 0


def cmd_latency(args) -> int:
    """Closed-loop peak, constant-rate steps up to it, and the highest rate meeting --slo."""
    from runner.experiments import latency

    if len(args.scenario) > 1:
        raise DbbenchError("latency measures one scenario at a time")
    objective = latency.Objective.parse(args.slo) if args.slo else None
    options = run_options(args, frameworks=args.frameworks, variants=args.variants, everything=args.all,
                          rounds=args.rounds, quick=args.quick)
    path, document = latency.measure(options, latency.parse_steps(args.steps), objective, args.probes)
    print(latency.render(document))
    err.print(f"results: {path} (and latency.md, report.html and figures/ beside it)")
    return 0


def cmd_tune(args) -> int:
    """A pool-size sweep per cell; the smallest pool as good as the best is recorded for run."""
    from runner.experiments import tune

    if len(args.scenario) > 1:
        raise DbbenchError("tune measures one scenario at a time")
    if args.pool_size is not None:
        raise DbbenchError("tune chooses the pool size: drop --pool-size")
    options = run_options(args, **presets.selection(args.preset, args.frameworks, args.variants, args.all),
                          rounds=args.rounds, slice_s=args.slice or tune.TUNE_SLICE_S, spend_budget=not args.rounds)
    options = dataclasses.replace(options, preset=None,
                                  budget_s=args.budget or tune.budget_for(len(options.selected_cells())))
    kept, chosen = tune.tune(options, args.ladder or tune.LADDER, err.print)
    print(tune.render(chosen))
    err.print(f"results: {', '.join(map(str, kept))}; recorded in {tune.store()} for dbbench run --pool-size tuned")
    return 0


def cmd_lesson(args) -> int:
    """Render a lesson from its committed results, or (--measure) run its experiment first."""
    from runner.lessons import engine

    chosen = engine.lesson(args.name)
    if args.measure:
        err.print(f"lesson {chosen.name}: measuring ({chosen.question})")
        engine.measure(chosen)
    print(engine.render(chosen))
    return 0


def cmd_calibrate(args) -> int:
    """An A/A test: one cell started twice or more, measured as that many cells; every ratio
    between them must contain 1."""
    from runner.experiments import calibrate
    from runner.measure.run import Run
    from runner.report import results

    framework, _, variant = args.cell.partition("/")
    catalog.manifest().cell(framework, variant)
    if len(args.scenario) > 1:
        raise DbbenchError("calibrate measures one scenario at a time")
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


def cmd_soak(args) -> int:
    from pathlib import Path

    from runner.experiments import soak

    check_server_cpus(args.server_cpus)
    path, document = soak.soak(soak.SoakOptions(
        frameworks=args.frameworks, variants=args.variants, everything=args.all, duration_s=args.duration,
        connections=args.connections, sample_s=args.sample, server_cpus=args.server_cpus, db_url=args.db_url,
        out=Path(args.out) if args.out else None,
    ))
    print(soak.render(document))
    err.print(f"results: {path}")
    flagged = [c["name"] for c in document["cells"] if c.get("flags") or c["status"] == "failed"]
    return 1 if flagged else 0


def cmd_faults(args) -> int:
    from pathlib import Path

    from runner.experiments import faults

    path, document = faults.run_faults(faults.FaultOptions(
        frameworks=args.frameworks, variants=args.variants, everything=args.all, outage_s=args.outage,
        recovery_timeout_s=args.timeout, pool_size=args.pool_size, db_url=args.db_url,
        out=Path(args.out) if args.out else None,
    ))
    print(faults.render(document))
    err.print(f"results: {path}")
    return 1 if any(cell["status"] == "failed" for cell in document["cells"]) else 0


def cmd_report(args) -> int:
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
        try:
            document = results.finalize_runs_in(json.loads(path.read_text()))
        except (OSError, ValueError) as exc:
            raise DbbenchError(f"cannot read {path}: {exc}") from None
        except (KeyError, TypeError) as exc:
            raise DbbenchError(f"{path} is not a dbbench {name}: no {exc}") from None
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


def cmd_compare(args) -> int:
    from runner.report import results, tables

    sys.stdout.write(tables.compare(results.load(args.a), results.load(args.b), force=args.force))
    return 0


def duration_arg(value: str) -> float:
    """Seconds: 330, 90s, 5.5m, 1h."""
    units = {"s": 1, "m": 60, "h": 3600}
    text = value.strip().lower()
    scale = units.get(text[-1:], None)
    try:
        seconds = float(text[:-1] if scale else text) * (scale or 1)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a duration such as 330, 90s or 5m, not {value!r}") from None
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


def add_preset_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--preset", help="a named selection of cells from apps/presets.toml (stacks: the 2026 "
                                         "choices, with the price of each)")


def add_out(parser: argparse.ArgumentParser) -> None:
    """--out, checked (made, and written to) before the command starts anything."""
    from runner.base import paths

    parser.add_argument("--out", help="results directory (default: results/)")
    parser.set_defaults(out_default=paths.REPO / "results")


def add_selection_args(parser: argparse.ArgumentParser, where: str = "here") -> None:
    """Which cells: by framework and variant, every one (that can run `where`), or a preset."""
    parser.add_argument("--frameworks", type=csv_list)
    parser.add_argument("--variants", type=csv_list)
    parser.add_argument("--all", action="store_true", help=f"every cell that can run {where}")
    add_preset_arg(parser)


def add_shared_measurement_args(parser: argparse.ArgumentParser, budget_default: float | None = None) -> None:
    """What every measuring command shares with `run`, on this host or across hosts (cluster run)."""
    parser.add_argument("--scenario", type=scenarios_arg, default=["by-id"],
                        help="scenarios/NAME.toml; run takes a list or all, one run each (default by-id)")
    parser.add_argument("--connections", type=positive_int, help="wrk connections (default: the scenario's)")
    parser.add_argument("--slice", "--duration", dest="slice", type=slice_arg,
                        help="seconds per measured slice, 0.25 or more, such as 0.5 (default: the scenario's)")
    parser.add_argument("--budget", type=duration_arg, default=budget_default,
                        help="time for starting, verifying and measuring, e.g. 330 or 5.5m")
    parser.add_argument("--server-cpus", type=positive_int, default=1,
                        help="worker processes for Python servers, GOMAXPROCS for Go")
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
    parser.add_argument("--quick", action="store_true", help="a smoke run: 1 s slices, a 60 s budget")


def add_measurement_args(parser: argparse.ArgumentParser, budget_default: float | None = None) -> None:
    """What every measuring command on this host shares with `run`: the above, the database, the proxy, the lock."""
    add_shared_measurement_args(parser, budget_default)
    add_db_url(parser)
    add_db_latency(parser)
    parser.add_argument("--proxy", action="store_true",
                        help="toxiproxy in the path even at 0 ms (a latency sweep then compares like with like)")
    add_lock_args(parser)


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="dbbench", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)

    db = commands.add_parser("db", help="the benchmark database")
    db_commands = db.add_subparsers(dest="db_command", required=True, parser_class=OneLineParser)
    up = db_commands.add_parser("up", help="make sure a seeded database is up; print its URL last")
    up.add_argument("--users", type=users_arg, default=database.DEFAULT_USERS)
    up.add_argument("--port", type=port_arg, help="port for the embedded cluster (default: a free one)")
    up.add_argument("--listen", metavar="ADDR",
                    help="also listen on this address (the db host's), for --allow alone, with a password")
    up.add_argument("--allow", type=csv_list, metavar="CIDR,...",
                    help="the addresses or networks (the app hosts) that may connect on --listen")
    add_db_url(up)
    up.set_defaults(func=cmd_db_up)
    seed = db_commands.add_parser("seed", help="(re)create the schema and seed; print the checksum")
    seed.add_argument("--users", type=users_arg, default=database.DEFAULT_USERS)
    add_db_url(seed)
    add_lock_args(seed)
    seed.set_defaults(func=cmd_db_seed)
    down = db_commands.add_parser("down", help="stop the embedded cluster")
    down.set_defaults(func=cmd_db_down)
    status = db_commands.add_parser("status", help="the embedded cluster's state")
    status.set_defaults(func=cmd_db_status)

    listing = commands.add_parser("list", help="every cell, and whether it can run here")
    listing.set_defaults(func=cmd_list)

    serve = commands.add_parser("serve", help="run one cell in the foreground until Ctrl-C")
    serve.add_argument("framework")
    serve.add_argument("variant")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=port_arg, default=8000)
    serve.add_argument("--workers", type=positive_int, default=1)
    serve.add_argument("--pool-size", type=positive_int, help="per worker (default: sized from --connections)")
    serve.add_argument("--connections", type=positive_int, default=64, help="the load the pool is sized for")
    add_db_url(serve)
    add_db_latency(serve)
    serve.set_defaults(func=cmd_serve)

    verify = commands.add_parser("verify", help="check every selected cell against the database")
    verify.add_argument("--frameworks", type=csv_list)
    verify.add_argument("--variants", type=csv_list)
    verify.add_argument("--workers", type=positive_int, default=1)
    verify.add_argument("--pool-size", type=positive_int, default=8)
    verify.add_argument("--scenario", type=scenarios_arg, default=["by-id"],
                        help="check the endpoints of these scenarios (a list, or all; default by-id)")
    verify.add_argument("--json", metavar="FILE",
                        help="also write each cell's verdict here: its checks, and the statements it sent by endpoint")
    add_db_url(verify)
    add_db_latency(verify)
    add_lock_args(verify)
    verify.set_defaults(func=cmd_verify)

    run = commands.add_parser("run", help="verify and measure the matrix; write results/<time>/")
    add_selection_args(run)
    add_measurement_args(run)
    run.set_defaults(pool_size="tuned")
    run.add_argument("--tune-budget", type=duration_arg,
                     help="time for tuning the cells with no tuned pool recorded, before the run (default 40 s per "
                          "cell, at least 100 s)")
    add_run_precision_args(run)
    run.add_argument("--rate", type=rate_arg,
                     help="requests per second at a constant rate (oha, open loop; latency from each request's "
                          "intended send time) in place of wrk's closed loop; 3 rounds unless --rounds or --budget")
    run.add_argument("--users", type=users_arg, help="re-seed with this many users if needed")
    run.add_argument("--fault", choices=("reset", "outage"),
                     help="after round 2, drop every database connection (reset) or cut PostgreSQL off (outage); "
                          "record each cell's recovery and go on")
    run.add_argument("--fault-seconds", type=duration_arg, default=3.0, help="how long an outage lasts (3)")
    run.add_argument("--cell", help="one cell, FRAMEWORK/VARIANT")
    run.add_argument("--target", type=target_arg,
                     help="measure the --cell already serving at this URL (dbbench serve --host 0.0.0.0 on "
                          "another host); needs --db-url")
    run.set_defaults(func=cmd_run)

    calibrate = commands.add_parser(
        "calibrate", help="A/A test: one cell twice (or --instances N times); the noise floor of this machine")
    calibrate.add_argument("--cell", default="fastapi/raw", help="FRAMEWORK/VARIANT (default fastapi/raw)")
    calibrate.add_argument("--instances", type=calibrate_instances_arg, default=2,
                           help="how many times to start the cell (default 2; more asks whether two starts of one "
                                "cell can differ by more than the slices' noise)")
    calibrate.add_argument("--confidence", type=confidence_arg, default=0.95,
                           help="level of the A/A interval (default 0.95)")
    add_measurement_args(calibrate, budget_default=90)
    calibrate.set_defaults(func=cmd_calibrate)

    soak_parser = commands.add_parser("soak", help="hold cells at high concurrency; flag memory or connection leaks")
    soak_parser.add_argument("--frameworks", type=csv_list)
    soak_parser.add_argument("--variants", type=csv_list)
    soak_parser.add_argument("--all", action="store_true", help="every cell that can run here")
    soak_parser.add_argument("--duration", type=duration_arg, default=600.0, help="per cell, e.g. 10m (default)")
    soak_parser.add_argument("--connections", type=positive_int, default=512)
    soak_parser.add_argument("--sample", type=positive_int, default=5, help="seconds between samples")
    soak_parser.add_argument("--server-cpus", type=positive_int, default=1)
    add_out(soak_parser)
    add_db_url(soak_parser)
    add_lock_args(soak_parser)
    soak_parser.set_defaults(func=cmd_soak)

    sweep_parser = commands.add_parser("sweep", help="measure the cells at each value of one parameter")
    sweep_parser.add_argument("--param", required=True,
                              help="NAME=V1,V2,...: connections, pool-size, server-cpus, db-latency or rate "
                                   "(requests per second at a constant rate, oha)")
    sweep_parser.add_argument("--frameworks", type=csv_list)
    sweep_parser.add_argument("--variants", type=csv_list)
    sweep_parser.add_argument("--all", action="store_true", help="every cell that can run here")
    add_measurement_args(sweep_parser)
    sweep_parser.add_argument("--rounds", type=positive_int,
                              help="exactly this many rounds (each point measured once per round)")
    sweep_parser.add_argument("--precision", type=precision_arg,
                              help="target half-width of every ratio (default 3%%)")
    sweep_parser.add_argument("--quick", action="store_true",
                              help="1 s slices, a 60 s budget (per point in a sequential sweep)")
    sweep_parser.set_defaults(func=cmd_sweep)

    tune_parser = commands.add_parser("tune", help="measure pool sizes per cell, paired; record the smallest as good "
                                                   "as the best, for run (its default --pool-size tuned)")
    tune_parser.add_argument("--frameworks", type=csv_list)
    tune_parser.add_argument("--variants", type=csv_list)
    tune_parser.add_argument("--all", action="store_true", help="every cell that can run here")
    add_preset_arg(tune_parser)
    tune_parser.add_argument("--ladder", type=ladder_arg,
                             help="pool sizes to try besides the rule's (4,8,16)")
    add_measurement_args(tune_parser)
    tune_parser.add_argument("--rounds", type=positive_int, help="exactly this many rounds (every pool once per round)")
    tune_parser.set_defaults(func=cmd_tune)

    latency_parser = commands.add_parser(
        "latency", help="latency against offered load (constant-rate steps up to each cell's closed-loop peak); "
                        "with --slo, the highest rate that meets a latency objective")
    latency_parser.add_argument("--frameworks", type=csv_list)
    latency_parser.add_argument("--variants", type=csv_list)
    latency_parser.add_argument("--all", action="store_true", help="every cell that can run here")
    latency_parser.add_argument("--steps", default="25,50,75,90,100",
                                help="offered rates, in %% of each cell's closed-loop throughput (25,50,75,90,100)")
    latency_parser.add_argument("--slo", help="an objective such as p99=50ms: find each cell's highest rate meeting it")
    latency_parser.add_argument("--probes", type=positive_int, default=4,
                                help="bisection runs after the steps, for --slo (4)")
    add_measurement_args(latency_parser)
    latency_parser.add_argument("--rounds", type=positive_int,
                                help="rounds per run (default: the closed-loop run to 3%%, each rate run 3)")
    latency_parser.add_argument("--quick", action="store_true", help="1 s slices, a 60 s budget for the peak")
    latency_parser.set_defaults(func=cmd_latency)

    lesson_parser = commands.add_parser("lesson", help="render a lesson in docs/lessons from its committed run")
    lesson_parser.add_argument("name")
    lesson_parser.add_argument("--measure", action="store_true", help="run the lesson's experiment first")
    add_lock_args(lesson_parser, measures=lambda args: args.measure)
    lesson_parser.set_defaults(func=cmd_lesson)

    faults_parser = commands.add_parser(
        "faults", help="drop every cell's database connections, then cut PostgreSQL off; time the recovery")
    faults_parser.add_argument("--frameworks", type=csv_list)
    faults_parser.add_argument("--variants", type=csv_list)
    faults_parser.add_argument("--all", action="store_true", help="every cell that can run here")
    faults_parser.add_argument("--outage", type=duration_arg, default=3.0, help="seconds without PostgreSQL (3)")
    faults_parser.add_argument("--timeout", type=duration_arg, default=30.0,
                               help="how long a cell may take to serve again (30 s)")
    faults_parser.add_argument("--pool-size", type=positive_int, default=8)
    add_out(faults_parser)
    add_db_url(faults_parser)
    add_lock_args(faults_parser)
    faults_parser.set_defaults(func=cmd_faults)

    rep = commands.add_parser("report", help="render a stored results file again")
    rep.add_argument("results", help="a results.json, or its directory")
    rep.add_argument("--format", choices=("md", "csv", "json", "html", "png", "svg"), default="md",
                     help="md, csv, json: printed; html: report.html; png, svg: figures/ (default: md)")
    rep.add_argument("--out", help="directory for html, png and svg (default: the results file's directory)")
    rep.set_defaults(func=cmd_report)

    cmp = commands.add_parser("compare", help="each cell's change between two stored runs")
    cmp.add_argument("a")
    cmp.add_argument("b")
    cmp.add_argument("--force", action="store_true", help="compare runs from different machines or data sets")
    cmp.set_defaults(func=cmd_compare)

    from runner.cluster import commands as cluster_commands

    cluster_commands.add_parser(commands)
    from runner.cells import environments

    environments.add_parser(commands)
    return parser


def measures(args) -> bool:
    found = getattr(args, "measures", False)
    return bool(found(args) if callable(found) else found)


def printable(word: str) -> str:
    """A command-line word safe to show: a database URL's password masked."""
    flag, equals, value = word.partition("=") if word.startswith("--") else ("", "", word)
    return flag + equals + (database.mask_url(value) if "://" in value else value)


def main(argv: list[str] | None = None) -> int:
    from contextlib import nullcontext
    from pathlib import Path

    from runner.db import clusterlock
    from runner.report import results

    args = build_parser().parse_args(argv)
    command = " ".join(["dbbench", *map(printable, sys.argv[1:] if argv is None else argv)])
    try:
        with supervise.stop_on_signals():
            out = getattr(args, "out", None) or getattr(args, "out_default", None)
            if out:
                results.check_writable(Path(out))
            lock = clusterlock.held(getattr(args, "db_url", None), command, args.wait, err.print) \
                if measures(args) else nullcontext()
            with lock:
                return args.func(args)
    except DbbenchError as exc:
        err.print(f"dbbench: error: {exc}")
        return 2
    except KeyboardInterrupt as exc:
        err.print(f"dbbench: interrupted ({exc or 'SIGINT'})")
        return supervise.exit_code_of(exc)
