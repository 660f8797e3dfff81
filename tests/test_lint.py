"""The code stays ruff clean (the configuration is in pyproject.toml)."""

import subprocess
import sys

from conftest import REPO


def test_ruff_is_clean():
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "runner", "apps", "tests"], cwd=REPO,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def test_bandit_rules_are_on_and_sql_built_from_strings_is_an_error(tmp_path):
    """ruff's S rules run with the project's configuration: a query built with an f-string fails."""
    bad = tmp_path / "bad.py"
    bad.write_text('def lookup(conn, table):\n    return conn.execute(f"SELECT * FROM {table} WHERE id = 1")\n')
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "--config", str(REPO / "pyproject.toml"),
                             str(bad)], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 1 and "S608" in result.stdout
