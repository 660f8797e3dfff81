"""Where a cell's CPU goes, by library (run --profile): py-spy's samples given to libraries.

The shares come from a sample file with known stacks; the run samples real cells, and only
what cannot fail by chance is asserted of it: an ORM cell spends samples in its ORM, a raw
one none, and a cell that cannot be sampled says why.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import dbbench

from runner.base import paths
from runner.measure import profile
from runner.report import profiles, results, tables

SITE = "/v/.venvs/sa2/lib/python3.11/site-packages"
RECORDED = "\n".join([
    f'process 10:"python -m apps.serve fastapi sa-orm";<module> ({paths.APPS_DIR}/serve.py:3);'
    f"run ({SITE}/uvicorn/server.py:60);get_user ({paths.APPS_DIR}/access/sa_orm.py:20);"
    f"execute ({SITE}/sqlalchemy/orm/session.py:2300) 50",
    f'process 10:"python -m apps.serve fastapi sa-orm";<module> ({paths.APPS_DIR}/serve.py:3);'
    f"run ({SITE}/uvicorn/server.py:60);fetch ({SITE}/asyncpg/connection.py:690) 30",
    f'process 10:"python -m apps.serve fastapi sa-orm";<module> ({paths.APPS_DIR}/serve.py:3);'
    "select (/usr/lib/python3.11/selectors.py:468) 15",
    f'process 10:"python -m apps.serve fastapi sa-orm";<module> ({paths.APPS_DIR}/serve.py:3);'
    "dumps (/usr/lib/python3.11/json/__init__.py:231) 5",
    'process 10:"python -m apps.serve fastapi sa-orm" 7',  # no Python frame: not a sample of Python
    "",
])


def test_shares_by_library_from_a_recorded_sample_file():
    stacks = profiles.read_samples(RECORDED)
    assert sum(stacks.values()) == 100
    found = profiles.shares(stacks)
    assert found["samples"] == 100
    assert found["by_category"] == {"ORM": 0.5, "driver": 0.3, "event loop": 0.15, "JSON": 0.05}
    assert found["by_package"] == {"sqlalchemy": 0.5, "asyncpg": 0.3, "selectors": 0.15, "json": 0.05}
    assert profiles.library_of(f"handler ({paths.APPS_DIR}/frameworks/fastapi.py:9)") == ("app", "apps")
    assert profiles.library_of("f (/v/lib/python3.11/site-packages/django/db/models/query.py:1)") == \
        ("ORM", "django.db")
    assert profiles.library_of("f (/v/lib/python3.11/site-packages/django/core/handlers/asgi.py:1)") == \
        ("framework", "django")
    assert profiles.library_of("f (/elsewhere/thing.py:1)") == ("rest", "thing.py")


def test_where_a_price_moved_the_cpu_and_a_flame_graph_from_samples(tmp_path):
    orm = {"by_package": {"sqlalchemy": 0.40, "asyncpg": 0.20, "uvicorn": 0.10}}
    raw = {"by_package": {"asyncpg": 0.45, "uvicorn": 0.15}}
    assert profiles.moved(orm, raw) == "sqlalchemy +40 pts, asyncpg -25 pts"
    assert profiles.moved(orm, {"reason": "gone"}) is None
    figure = profiles.flame(profiles.read_samples(RECORDED), "fastapi/sa-orm")
    figure.savefig(tmp_path / "flame.svg")
    assert (tmp_path / "flame.svg").stat().st_size > 1000


def test_a_process_that_cannot_be_sampled_gives_a_reason_in_one_line(tmp_path):
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    recorder = profile.start(gone.pid, 1, tmp_path / "samples.txt")
    reason = profile.finish(recorder, tmp_path / "samples.txt", timeout_s=30)
    assert reason and reason.startswith("py-spy could not sample it") and "\n" not in reason


@pytest.fixture(scope="module")
def profiled_run(db_url, tmp_path_factory):
    out = tmp_path_factory.mktemp("profiled")
    result = dbbench("run", "--profile", "--quick", "--pool-size", "rule", "--frameworks", "fastapi,gin",
                     "--variants", "raw,sa-orm", "--out", str(out), timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return out / "latest", results.load(out / "latest")


def test_a_profiled_run_shows_the_orm_where_the_orm_runs(profiled_run):
    directory, document = profiled_run
    assert document["metadata"]["run"]["profiler"]["tool"] == "py-spy"
    cells = {cell["name"]: cell for cell in document["cells"]}
    orm, raw = cells["fastapi/sa-orm"]["profile"], cells["fastapi/raw"]["profile"]
    assert orm["samples"] > 0 and raw["samples"] > 0
    assert orm["by_category"].get("ORM", 0) > raw["by_category"].get("ORM", 0)
    assert orm["by_package"].get("sqlalchemy", 0) > 0.05
    assert cells["gin/raw"]["profile"] == {"reason": profile.GO_REASON}
    assert (directory / "profiles" / orm["file"]).is_file()
    assert (directory / "figures" / "flame-fastapi-sa-orm.svg").is_file()
    assert "Where the CPU goes, by library" in tables.render_markdown(document)
