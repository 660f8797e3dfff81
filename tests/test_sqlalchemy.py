"""SQLAlchemy's compiled-SQL cache really is off in sa-orm-nocache and on in the others,
by SQLAlchemy's own per-execution cache verdict (not by timings)."""

import json
import os
import subprocess
from pathlib import Path

import pytest
from conftest import REPO

from runner.cells import environments

PROBE = Path(__file__).with_name("sa_cache_probe.py")


def cache_outcomes(variant: str, db_url: str) -> list[str]:
    python = environments.ensure("sa2")
    result = subprocess.run([str(python), str(PROBE), variant], cwd=REPO, capture_output=True, text=True,
                            timeout=120, env={**os.environ, "DATABASE_URL": db_url, "PYTHONPATH": str(REPO)})
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_the_cache_is_off_without_a_cache(db_url):
    assert cache_outcomes("sa-orm-nocache", db_url) == ["CACHING_DISABLED"] * 5


@pytest.mark.parametrize("variant", ["sa-orm", "sa-lambda", "sa-core"])
def test_the_cache_compiles_once_then_hits(db_url, variant):
    assert cache_outcomes(variant, db_url) == ["CACHE_MISS"] + ["CACHE_HIT"] * 4
