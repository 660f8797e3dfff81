"""valgrind's callgrind: a server's instructions counted while it runs, zeroed and dumped on
demand (callgrind_control), and each dump read as instructions by object and function.

An instruction count does not depend on how fast the shared CPU happens to run: what a
throughput measures with 9-15% noise per slice here, a count gives to a fraction of a percent.
It does not count waiting, cache misses or the kernel."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from runner.base.errors import DbbenchError

CONTROL_TIMEOUT_S = 30
DUMP_WAIT_S = 10
# A name line: "fn=(12) name" defines id 12, "fn=(12)" refers to it; files written without
# name compression have the bare name.
NAME_LINE = re.compile(r"^(ob|fl|fi|fe|fn|cob|cfi|cfl|cfn)=(?:\((\d+)\))?\s*(.*)$")


def binary(name: str = "valgrind") -> str:
    """valgrind, or callgrind_control beside it (the Debian package has both)."""
    found = shutil.which(name)
    if not found:
        raise DbbenchError(f"{name} is not installed: 'apt-get install valgrind' "
                           "(or, as root, 'make cost-tools')")
    return found


def version() -> str:
    result = subprocess.run([binary(), "--version"], capture_output=True, text=True, timeout=10)
    return result.stdout.strip() or "unknown"


def wrapper(directory: Path) -> list[str]:
    """What goes before a server's command line: callgrind, following its children (Sanic's and
    granian's workers), one file per process and dump in `directory`, and not instrumenting until
    told to (`control("instrument", pids)`): a Python server's imports and its verification then
    run several times faster."""
    return [binary(), "--tool=callgrind", "--trace-children=yes", "--instr-atstart=no",
            f"--callgrind-out-file={directory}/callgrind.%p", "--log-file=" + str(directory / "valgrind.%p.log")]


def control(action: str, pids: list[int]) -> None:
    """`zero` or `dump` the counters of these processes, or start to `instrument` them (each one of
    ours: never every callgrind process of the machine, which callgrind_control without a pid
    would reach)."""
    flags = {"zero": ["-z"], "dump": ["-d"], "instrument": ["-i", "on"]}[action]
    flag = " ".join(flags)
    program = binary("callgrind_control")
    for pid in pids:
        try:
            done = subprocess.run([program, *flags, str(pid)], capture_output=True, text=True,
                                  timeout=CONTROL_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise DbbenchError(f"callgrind_control {flag} {pid} did not answer within {CONTROL_TIMEOUT_S} s") from None
        if done.returncode != 0 or "OK" not in done.stdout:
            said = (done.stdout + done.stderr).strip().splitlines()
            raise DbbenchError(f"callgrind_control {flag} {pid} failed: {said[-1] if said else done.returncode}")


def complete(path: Path) -> bool:
    """A dump ends with its `totals:` line: one without it is still being written."""
    with path.open("rb") as handle:
        handle.seek(max(0, path.stat().st_size - 200))
        return b"\ntotals:" in handle.read()


def last_dump(directory: Path, pid: int, after: int) -> tuple[Path, int]:
    """The newest dump of process `pid` numbered above `after`, once whole, waited for a bounded time."""
    deadline = time.monotonic() + DUMP_WAIT_S
    while True:
        parts = {int(path.name.rsplit(".", 1)[1]): path for path in directory.glob(f"callgrind.{pid}.*")
                 if path.name.rsplit(".", 1)[1].isdigit()}
        newest = max(parts, default=0)
        if newest > after and complete(parts[newest]):
            return parts[newest], newest
        if time.monotonic() > deadline:
            raise DbbenchError(f"callgrind wrote no dump for process {pid} within {DUMP_WAIT_S} s")
        time.sleep(0.05)


def batch(pids: list[int], directory: Path, dumped: dict[int, int], send: Callable[[], None]) -> dict[int, Dump]:
    """Each process's counters zeroed, `send()` run, its counters dumped: what each process did
    meanwhile, read from its dump, which is then removed. `dumped` holds the last dump number read
    per process and is updated."""
    control("zero", pids)
    send()
    control("dump", pids)
    counted = {}
    for pid in pids:
        path, dumped[pid] = last_dump(directory, pid, dumped.get(pid, 0))
        counted[pid] = read_dump(path)
        path.unlink()
    return counted


@dataclass
class Dump:
    """One dump: its total instructions and their attribution to (object, function), self cost."""

    total: int
    by_function: Counter  # (object file, function name) -> instructions spent in it, not in its callees

    def by(self, classify) -> Counter:
        """Instructions summed by `classify(object, function)`."""
        summed: Counter = Counter()
        for (obj, function), count in self.by_function.items():
            summed[classify(obj, function)] += count
        return summed


def read_dump(path: Path) -> Dump:
    """Self cost per (object, function) from callgrind's format: a cost line belongs to the
    current function, except the one after a `calls=` line, which is that call's inclusive cost."""
    names: dict[tuple[str, str], str] = {}
    current = {"ob": "???", "fn": "???"}
    by_function: Counter = Counter()
    inclusive_next = False
    totals = None
    with path.open(errors="replace") as lines:
        for line in lines:
            if not line or line == "\n":
                continue
            if line.startswith("totals:"):
                totals = int(line.split()[1])
                continue
            first = line[0]
            if first.isdigit() or first in "+-*":
                if inclusive_next:
                    inclusive_next = False
                    continue
                fields = line.split()
                if len(fields) > 1:
                    by_function[(current["ob"], current["fn"])] += int(fields[1])
                continue
            if line.startswith("calls="):
                inclusive_next = True
                continue
            found = NAME_LINE.match(line.rstrip("\n"))
            if not found:
                continue
            kind, ident, name = found.groups()
            table = {"cob": "ob", "cfi": "fl", "cfl": "fl", "cfn": "fn", "fi": "fl", "fe": "fl"}.get(kind, kind)
            if ident is not None:
                if name:
                    names[(table, ident)] = name
                else:
                    name = names.get((table, ident), "???")
            if kind == "ob":
                current["ob"] = name
            elif kind == "fn":
                current["fn"] = name
    total = sum(by_function.values())
    if total != totals:
        raise DbbenchError(f"callgrind's dump {path.name} does not add up: its functions hold {total:,} "
                           f"instructions, its totals line says {totals}")
    return Dump(total, by_function)
