"""Shared fixtures: one real embedded PostgreSQL for the whole session, on its own
state directory and port, seeded small; never a mock."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DBBENCH = [sys.executable, "-m", "runner"]
TEST_USERS = 2000


# What `make test-fast` leaves out: any test that needs the session's database (its fixtures reach
# db_url or state_home), or that is marked slow (it starts cells, builds a tool, or waits on one),
# unless it is marked end_to_end: the one real run the fast suite keeps.
NEEDS_THE_DATABASE = {"db_url", "state_home"}


def normalized_pins(path: Path) -> dict[str, str]:
    """name -> version of a requirements file's exact pins, names as PyPI compares them (uv
    writes them so: `django`, `typing-extensions`)."""
    pins = {}
    for line in path.read_text().splitlines():
        if line and not line.startswith("#"):
            name, version = line.split("==")
            pins[re.sub(r"[-_.]+", "-", name.split("[")[0]).lower()] = version.strip()
    return pins


def pytest_addoption(parser):
    parser.addoption("--fast", action="store_true",
                     help="the unit tests and one real run end to end (make test-fast), not the whole suite")


def pytest_configure(config):
    # Never the user's .dbbench: a test that runs the CLI before the session's database exists (a
    # one-line error it checks) would otherwise meet the lock of the user's own measurement.
    if "DBBENCH_HOME" not in os.environ:
        os.environ["DBBENCH_HOME"] = config._dbbench_home = tempfile.mkdtemp(prefix="dbbench-home-")
    config.addinivalue_line("markers", "slow: left out of make test-fast: starts cells, builds or drives a tool")
    config.addinivalue_line("markers", "end_to_end: the real run make test-fast keeps (it needs the database)")


def pytest_unconfigure(config):
    home = getattr(config, "_dbbench_home", None)
    if home:
        shutil.rmtree(home, ignore_errors=True)


def pytest_collection_modifyitems(config, items):
    if not config.getoption("--fast"):
        return
    def kept(item) -> bool:
        if item.get_closest_marker("end_to_end"):
            return True
        return not item.get_closest_marker("slow") and not NEEDS_THE_DATABASE & set(item.fixturenames)
    left_out = [item for item in items if not kept(item)]
    items[:] = [item for item in items if kept(item)]
    config.hook.pytest_deselected(items=left_out)


def dbbench(*args: str, env: dict | None = None, timeout: float = 900, check: bool = False):
    """Run the real CLI in a subprocess, as a user would."""
    result = subprocess.run(
        [*DBBENCH, *args], cwd=REPO, capture_output=True, text=True, timeout=timeout,
        env={**os.environ, **(env or {})},
    )
    if check and result.returncode != 0:
        raise AssertionError(f"dbbench {' '.join(args)} exited {result.returncode}:\n{result.stderr}")
    return result


@pytest.fixture(scope="session")
def state_home(tmp_path_factory) -> Path:
    """The test cluster's own state directory, kept apart from the user's .dbbench."""
    home = tmp_path_factory.mktemp("dbbench-home")
    os.environ["DBBENCH_HOME"] = str(home)
    yield home
    subprocess.run([*DBBENCH, "db", "down"], cwd=REPO, capture_output=True, timeout=120)


@pytest.fixture(scope="session")
def db_url(state_home) -> str:
    """The session's seeded database URL (the last line `dbbench db up` prints)."""
    result = dbbench("db", "up", "--users", str(TEST_USERS), check=True)
    return result.stdout.strip().splitlines()[-1]
