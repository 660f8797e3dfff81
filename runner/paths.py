"""Where things live: the repository, the state directory, the environments."""

import os
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SCHEMA_DIR = REPO / "schema"
SEEDS_DIR = REPO / "seeds"
SCENARIOS_DIR = REPO / "scenarios"
APPS_DIR = REPO / "apps"


def state_home() -> Path:
    """The git-ignored working directory of the embedded cluster and built binaries.

    DBBENCH_HOME moves it, so tests can run their own cluster beside the user's.
    """
    return Path(os.environ.get("DBBENCH_HOME") or REPO / ".dbbench").resolve()


def venvs_home() -> Path:
    """One virtual environment per dependency stack lives here."""
    return Path(os.environ.get("DBBENCH_VENVS") or REPO / ".venvs").resolve()
