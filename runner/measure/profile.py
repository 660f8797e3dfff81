"""Where a cell's CPU goes, by library: py-spy samples its server on slices of its own.

With --profile, after a group's measured rounds, each live Python cell is loaded once more
for PROFILE_S seconds while py-spy (PyPI, pinned with the runner) samples every process of its
server. These slices are never the ranking's: the sampler reads the server's memory 250 times
a second on the same cores, and would tax the figures it measured; nor is their time taken from
the ranking's budget. py-spy needs to read another process's memory: root, or CAP_SYS_PTRACE;
without it each cell records why it has no profile. The samples are kept as py-spy writes them
(collapsed stacks, `--format raw`) in profiles/<cell>.txt beside the results, and each sample
is given to the library of the frame it was running (its leaf): the framework, the ORM, the
driver, the server, the event loop, JSON, the benchmark's own glue (apps/), or the rest.

The Go reference is not sampled: py-spy reads Python's frames, and Go's own profiler (pprof)
is not wired into apps/gin; its record says so.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from runner.base import supervise
from runner.base.errors import DbbenchError
from runner.measure.plan import file_slug
from runner.report import profiles

if TYPE_CHECKING:
    from runner.cells.lifecycle import CellProcess
    from runner.measure.run import Run

PROFILE_S = 6.0
QUICK_PROFILE_S = 3.0
RATE_HZ = 250
GO_REASON = "py-spy samples Python's frames; Go's profiler (pprof) is not wired into apps/gin"



def binary() -> Path:
    """py-spy, installed with the runner (runner/requirements.lock)."""
    found = Path(sys.executable).with_name("py-spy")
    if found.exists():
        return found
    other = shutil.which("py-spy")
    if other is None:
        raise DbbenchError("--profile needs py-spy, which the runner's environment lacks: run make setup")
    return Path(other)


def version() -> str:
    try:
        answer = subprocess.run([str(binary()), "--version"], capture_output=True, text=True, timeout=10,
                                check=False).stdout.split()
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise DbbenchError(f"cannot run py-spy --version: {exc}") from None
    return answer[-1] if answer else "unknown"


def start(pid: int, seconds: float, output: Path) -> subprocess.Popen:
    """py-spy recording the process `pid` and its children for `seconds`, into `output`."""
    output.parent.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(
        [str(binary()), "record", "--pid", str(pid), "--subprocesses", "--format", "raw", "--full-filenames",
         "--rate", str(RATE_HZ), "--duration", str(max(1, round(seconds))), "--nonblocking", "--output",
         str(output)], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        preexec_fn=supervise.die_with_parent(os.getpid()))


def finish(recorder: subprocess.Popen, output: Path, timeout_s: float) -> str | None:
    """Wait for py-spy; None when it wrote its samples, else why not in one line."""
    try:
        _, errors = recorder.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        recorder.kill()
        recorder.wait()
        return f"py-spy did not finish within {timeout_s:.0f} s"
    if recorder.returncode != 0 or not output.exists() or not output.stat().st_size:
        lines = [line.strip() for line in (errors or b"").decode(errors="replace").splitlines() if line.strip()]
        return f"py-spy could not sample it (exit {recorder.returncode}): {lines[-1] if lines else 'no samples'}"
    return None


def summary(output: Path, seconds: float) -> dict:
    """What a profile's record holds: where its samples are kept and their shares."""
    found = profiles.shares(profiles.read_samples(output.read_text(errors="replace")))
    if not found["samples"]:
        return {"file": output.name, "seconds": seconds, "rate_hz": RATE_HZ, "reason": "no Python frames sampled"}
    return {"file": output.name, "seconds": seconds, "rate_hz": RATE_HZ, **found}


def profile_group(run: Run, number: int, names: list[str], processes: dict[str, CellProcess]) -> None:
    """--profile: after the ranking's rounds, one more load per live cell while py-spy samples
    its server (above); a cell that cannot be sampled says why and the run goes on. The time it
    takes is given back to the run's clock, so that later groups keep their share of the budget."""
    began = time.monotonic()
    try:
        for name in names:
            profile_cell(run, number, name, processes)
    finally:
        run.started += time.monotonic() - began
    run.save()


def profile_cell(run: Run, number: int, name: str, processes: dict[str, CellProcess]) -> None:
    """One cell's profile in its record, or why it has none."""
    record = run.records[name]
    if record["status"] != "ok" or name not in processes:
        return
    if not run.members[name].cell.is_python:
        record["profile"] = {"reason": GO_REASON}
        return
    supervise.raise_if_interrupted()
    seconds = QUICK_PROFILE_S if run.options.quick else PROFILE_S
    run.describe(f"group {number}: profiling {name}")
    output = run.run_dir / "profiles" / f"{file_slug(name)}.txt"
    recorder = start(processes[name].process.pid, seconds, output)
    try:
        run.closed_loop(name, processes[name], seconds + 1.0, seed=run.plan.seed + 999_999)
    except BaseException as exc:
        recorder.kill()  # a failed load or an interrupt: no sampler outlives its load
        recorder.wait()
        if not isinstance(exc, DbbenchError):
            raise
        record["profile"] = {"reason": f"its load failed: {exc}"}
        return
    reason = finish(recorder, output, timeout_s=seconds + 30)
    record["profile"] = {"reason": reason} if reason else summary(output, seconds)
