"""Shared fixtures: one real embedded PostgreSQL for the whole session, on its own
state directory and port, seeded small; never a mock."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DBBENCH = [sys.executable, "-m", "runner"]
TEST_USERS = 2000


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
