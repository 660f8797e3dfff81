"""What a cell runs, built on first use, and whether it can run here: its stack's Python
environment (runner/cells/environments.py), or the Gin binary from apps/gin with a Go toolchain new
enough for its go.mod."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
from pathlib import Path

from runner.base import paths, supervise
from runner.base.errors import DbbenchError
from runner.cells import environments
from runner.cells.catalog import Cell, manifest

GIN_DIR = paths.APPS_DIR / "gin"


def go_required() -> str:
    match = re.search(r"^go (\S+)", (GIN_DIR / "go.mod").read_text(), re.MULTILINE)
    return match.group(1) if match else "1.21"


def _version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text)[:3])


def find_go() -> tuple[str | None, str]:
    """A Go toolchain at least as new as apps/gin/go.mod asks, and what was found."""
    needed = go_required()
    candidates = [
        os.environ.get("DBBENCH_GO"),
        str(paths.state_home() / "toolchain" / "bin" / "go"),
        shutil.which("go"),
        "/usr/local/go/bin/go",
    ]
    seen = []
    for candidate in filter(None, candidates):
        if not os.access(candidate, os.X_OK):
            continue
        try:
            version = subprocess.run(
                [candidate, "env", "GOVERSION"], capture_output=True, text=True, timeout=30,
                env={**os.environ, "GOTOOLCHAIN": "local"},
            ).stdout.strip().removeprefix("go")
        except (OSError, subprocess.TimeoutExpired):
            continue
        seen.append(version)
        if version and _version_tuple(version) >= _version_tuple(needed):
            return candidate, version
    found = f"found {', '.join(seen)}" if seen else "none found"
    return None, f"needs Go {needed} or newer ({found}; run 'bash runner/bootstrap.sh' as root)"


# How the Gin app is built, and its Go tests run: the same flags, so that `go test` reuses the
# build's compiled packages (a -trimpath build shares none with a test run without it).
GO_BUILD_ENV = {"GOTOOLCHAIN": "local", "GOFLAGS": "-mod=readonly -trimpath"}


def gin_binary(package: str = ".") -> Path:
    """Build the Gin app (or `package`, a directory of its module: "minimal", the minimal app)
    once per source version; later calls reuse the binary."""
    go, detail = find_go()
    if go is None:
        raise DbbenchError(f"the Gin cells {detail}")
    extra = [] if package == "." else sorted((GIN_DIR / package).glob("*"))  # the module's files, and its own
    digest = hashlib.sha256()
    for source in [*sorted(GIN_DIR.glob("*")), *extra]:
        if source.is_file():
            digest.update(source.name.encode() + source.read_bytes())
    name = "gin" if package == "." else f"gin-{package}"
    target = paths.state_home() / "bin" / f"{name}-{digest.hexdigest()[:12]}"
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [go, "build", "-o", str(target), f"./{package}" if package != "." else "."], cwd=GIN_DIR,
        capture_output=True, text=True,
        timeout=600, env={**os.environ, **GO_BUILD_ENV}, preexec_fn=supervise.die_with_parent(os.getpid()),
    )
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().splitlines()
        where = "apps/gin" if package == "." else f"apps/gin/{package}"
        raise DbbenchError(f"go build of {where} failed: {detail[-1] if detail else 'no output'}")
    return target


def build(cell: Cell, minimal: bool = False) -> Path:
    """What the cell runs (with `minimal`, its minimal app), built on first use: its stack's
    Python, or the Gin binary."""
    if cell.is_python:
        return environments.ensure(cell.stack)
    return gin_binary("minimal" if minimal else ".")


def availability(cell: Cell) -> tuple[bool, str]:
    """Whether a cell can run here, and if not, why (without building anything)."""
    if cell.framework.kind == "go":
        go, detail = find_go()
        return (True, f"Go {detail}") if go else (False, detail)
    if cell.stack not in manifest().stacks:
        return False, f"{cell.name} names no known stack"
    state = "ready" if environments.is_ready(cell.stack) else "built on first use"
    return True, f"environment {cell.stack} ({state})"
