"""Where a cell's CPU goes, by library: py-spy samples its server on slices of its own.

With --profile, after a group's measured rounds, each live Python cell is loaded once more
for PROFILE_S seconds while py-spy (PyPI, pinned with the runner) samples every process of its
server. These slices are never the ranking's: a sampler stops the process it reads, many times
a second, and would tax the figures it measured. The samples are kept as py-spy writes them
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
    its server (above); a cell that cannot be sampled says why and the
    run goes on."""
    seconds = QUICK_PROFILE_S if run.options.quick else PROFILE_S
    for name in names:
        record = run.records[name]
        if record["status"] != "ok" or name not in processes:
            continue
        if not run.members[name].cell.is_python:
            record["profile"] = {"reason": GO_REASON}
            continue
        supervise.raise_if_interrupted()
        run.describe(f"group {number}: profiling {name}")
        output = run.run_dir / "profiles" / f"{file_slug(name)}.txt"
        recorder = start(processes[name].process.pid, seconds, output)
        try:
            run.closed_loop(name, processes[name], seconds + 1.0, seed=run.plan.seed + 999_999)
        except DbbenchError as exc:
            recorder.kill()
            recorder.wait()
            record["profile"] = {"reason": f"its load failed: {exc}"}
            continue
        reason = finish(recorder, output, timeout_s=seconds + 30)
        record["profile"] = {"reason": reason} if reason else summary(output, seconds)
    run.save()
