"""`dbbench cluster run` on the controller: up, the run on the app host, down, the results here.

The run itself executes on the app host (runner/cluster/app_side.py), started over SSH with
a terminal (`ssh -tt`), so that its progress shows here as it goes and a Ctrl-C typed here
reaches it. Ansible does the rest: bringing the hosts up, stopping everything on every host
(`down`, always, whatever ended the run), and fetching the run's results and each agent's
raw samples into results/<time>/ here. If this process is killed outright, its ssh dies
with it, the run on the app host gets SIGHUP and stops its cells, and the agents stop when
their lease runs out; `dbbench cluster down` stops whatever is left at once.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import asdict
from pathlib import Path

from runner.base import paths, supervise
from runner.base.console import err
from runner.base.errors import DbbenchError
from runner.cluster import ansible, app_side, provisioning
from runner.cluster.inventory import Host, Inventory
from runner.measure.options import RunOptions
from runner.report import results

SSH_STOP_S = 10.0


def state_home_of(host: Host) -> str:
    """The host's state directory, as the playbooks compute it."""
    return str(host.vars.get("dbbench_home") or f"{host.vars['dbbench_dir']}/.dbbench")


def run(inventory: Inventory, options: RunOptions, users: int, out: Path) -> tuple[Path | None, int]:
    """Bring the hosts up, run on the app host, bring everything down and fetch the results:
    the local results directory (None if the run made none) and the run's exit code."""
    options.selected_cells()  # an unknown cell is an error here, before any host is touched
    described = provisioning.describe(inventory)
    app = inventory.role("app")
    cores = next(host["cores"] for host in described if host["name"] == app.name)
    if isinstance(cores, int) and options.server_cpus > cores:
        raise DbbenchError(f"--workers {options.server_cpus} is more than the {cores} cores of the app host "
                           f"{app.name}")
    err.print(f"layout: {inventory.layout()}; bringing the hosts up (checkout, bootstrap, PostgreSQL, agents)")
    code, stopped = None, None
    try:
        where = provisioning.up(inventory, users)
        plan = {
            "options": {key: value for key, value in asdict(options).items() if key not in ("db_url", "out")},
            "database_url": where["database_url"], "app_address": app.address, "layout": inventory.layout(),
            "agents": {role: {"host": inventory.role(role).name, "url": url}
                       for role, url in where["agents"].items()},
            "hosts": described,
        }
        code = on_app_host(app, plan)
    except (KeyboardInterrupt, DbbenchError) as exc:
        stopped = exc
    run_dir = wind_down(inventory, out, stopped)
    if stopped is not None:
        if run_dir is not None:
            err.print(f"finished slices kept in {run_dir / 'results.json'}")
        raise stopped
    return run_dir, code


def wind_down(inventory: Inventory, out: Path, stopped: BaseException | None) -> Path | None:
    """down, then the results fetched, whatever stopped the run. Where something already
    stopped it, a failure here is a warning, so that the first cause is the one reported."""
    err.print("stopping everything on every host")

    def tolerated(step: str, action):
        try:
            return action()
        except DbbenchError as exc:
            if stopped is None:
                raise
            again = f" (run `dbbench cluster down -i {inventory.path}` again)" if step == "down" else ""
            err.print(f"dbbench: warning: {step}: {exc}{again}")
            return None

    tolerated("down", lambda: provisioning.down(inventory))
    return tolerated("fetch", lambda: fetch(inventory, out))


def on_app_host(app: Host, plan: dict) -> int:
    """`dbbench cluster app-run` on the app host, its output shown here; its exit code."""
    command = (f"cd {shlex.quote(app.vars['dbbench_dir'])} && DBBENCH_HOME={shlex.quote(state_home_of(app))} "
               f"exec .venvs/runner/bin/dbbench cluster app-run --plan {app_side.encode_plan(plan)}")
    argv = app.ssh_argv()
    process = subprocess.Popen([argv[0], "-tt", *argv[1:], command],
                               preexec_fn=supervise.die_with_parent(os.getpid()))
    try:
        return process.wait()
    except BaseException:
        # The connection drops: the run there gets SIGHUP, stops its cells and keeps what it finished.
        process.terminate()
        try:
            process.wait(timeout=SSH_STOP_S)
        except subprocess.TimeoutExpired:
            process.kill()
        raise


def fetch(inventory: Inventory, out: Path) -> Path | None:
    """The app host's run directory into `out`, with each agent's samples in hosts/ beside its
    results.json; None when the run made no directory."""
    with tempfile.TemporaryDirectory(prefix="dbbench-fetch-", dir=paths.state_home()) as tmp:
        found = ansible.run("fetch", inventory, {"into": tmp})
        packed = found["pack"].get(inventory.role("app").name, {})
        name = (packed.get("stdout") or "").strip()
        if not name:
            return None
        out.mkdir(parents=True, exist_ok=True)
        run_dir = out / name
        if run_dir.exists():
            run_dir = results.new_run_dir(out)
        with tarfile.open(Path(tmp) / "results.tar.gz") as archive:
            archive.extractall(Path(tmp) / "unpacked", filter="data")
        shutil.move(Path(tmp) / "unpacked" / name, run_dir)
        samples = sorted(Path(tmp).glob("*-samples.jsonl"))
        if samples:
            (run_dir / "hosts").mkdir(exist_ok=True)
            for file in samples:
                shutil.move(file, run_dir / "hosts" / file.name)
    results.point_latest(run_dir)
    return run_dir
