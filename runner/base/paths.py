"""Where things live: the repository, the state directory, the environments."""

import os
import secrets
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCHEMA_DIR = REPO / "schema"
SEEDS_DIR = REPO / "seeds"
SCENARIOS_DIR = REPO / "scenarios"
APPS_DIR = REPO / "apps"
PARITY_DIR = REPO / "docs" / "parity"  # the published parity run (dbbench parity --publish)
COST_DIR = REPO / "docs" / "cost"  # the published cost run (dbbench cost --publish)


def state_home() -> Path:
    """The git-ignored working directory of the embedded cluster and built binaries.

    DBBENCH_HOME moves it, so tests can run their own cluster beside the user's.
    """
    return Path(os.environ.get("DBBENCH_HOME") or REPO / ".dbbench").resolve()


def venvs_home() -> Path:
    """One virtual environment per dependency stack lives here."""
    return Path(os.environ.get("DBBENCH_VENVS") or REPO / ".venvs").resolve()


def built_tool(name: str) -> Path | None:
    """A program runner/bootstrap.sh built: in the state directory, or in the repository's
    default one (a test's DBBENCH_HOME holds its own cluster, not the tools `make` built)."""
    for place in (state_home() / "bin", REPO / ".dbbench" / "bin"):
        if (place / name).exists():
            return place / name
    return None


def built_version(name: str) -> str:
    """The pinned version the bootstrap recorded beside the program it built."""
    found = built_tool(name)
    try:
        return found.with_name(f"{name}.version").read_text().strip() if found else "unknown"
    except OSError:
        return "unknown"


def secret(path: Path, nbytes: int) -> str:
    """A random secret kept in `path`, made on first use in a file only its owner can read
    (created that way, never widened afterwards), and the same one every time after."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_urlsafe(nbytes) + "\n")
    return path.read_text().strip()
