"""Every declared cell runs here and passes the verifier against the real database."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections import Counter

import httpx
import pytest
from conftest import DBBENCH, REPO, TEST_USERS, dbbench, normalized_pins

from runner.base import ports
from runner.cells import builds, catalog
from runner.db import seeding


def test_list_shows_every_declared_cell():
    listing = dbbench("list", check=True).stdout
    for cell in catalog.manifest().cells():
        row = next((line for line in listing.splitlines()
                    if line.split()[:2] == [cell.framework.name, cell.variant.name]), None)
        assert row is not None, f"{cell.name} missing from dbbench list"
        assert " yes: " in row or " no: " in row
        assert ("(legacy)" in row) == bool(cell.legacy), row
    assert "legacy (" in listing and "unmaintained" in listing, "the listing says why the legacy cells are kept"
    manifest = catalog.manifest()
    for variant in manifest.variants.values():
        row = next((line for line in listing.splitlines() if line.split()[:1] == [variant.name]), "")
        assert " ".join(variant.summary.split()[:4]) in row, f"what {variant.name} is, from apps/cells.toml"
    for name, stack in manifest.stacks.items():
        assert f"stack {name} ({stack['lock']}): {stack['summary']}" in " ".join(listing.split())
    for framework in manifest.frameworks.values():
        assert not framework.note or f"note on {framework.name}: " in listing


@pytest.fixture(scope="module")
def second_cluster(db_url, tmp_path_factory):
    """A second embedded cluster, seeded as the session's: pg_stat_statements counts a whole
    cluster, so two verify sessions at once need one each or spoil each other's counts."""
    env = {"DBBENCH_HOME": str(tmp_path_factory.mktemp("dbbench-home-second"))}
    url = dbbench("db", "up", "--users", str(TEST_USERS), env=env, check=True).stdout.strip().splitlines()[-1]
    yield env, url
    dbbench("db", "down", env=env, timeout=120)


def two_halves() -> tuple[list[str], list[str]]:
    """The frameworks in two lists of about as many cells each; Gin's in the first, whose state
    home the other tests share, so that its binary is built once."""
    counts = Counter(cell.framework.name for cell in catalog.manifest().cells())
    halves: tuple[list[str], list[str]] = (["gin"], [])
    sizes = [counts.pop("gin"), 0]
    for name, count in counts.most_common():
        lighter = sizes.index(min(sizes))
        halves[lighter].append(name)
        sizes[lighter] += count
    return halves


@pytest.fixture(scope="module")
def every_cell_verified(db_url, second_cluster, tmp_path_factory):
    """All cells on the mix, whose endpoints are every scenario's, in two verify sessions at
    once, one per cluster (about 60% of one session's time on two cores): each session's exit
    code and output, and every cell's verdict from the --json files they wrote (a session
    that died before writing one shows in its output, which the tests assert on first)."""
    second_env, _ = second_cluster
    kept = tmp_path_factory.mktemp("verdicts")
    sessions = [subprocess.Popen([*DBBENCH, "verify", "--scenario", "mix", "--frameworks", ",".join(half),
                                  "--json", str(kept / f"{index}.json")],
                                 cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                 env={**os.environ, **env})
                for index, (half, env) in enumerate(zip(two_halves(), ({}, second_env), strict=True))]
    try:
        outputs = [(*session.communicate(timeout=2400), session.returncode) for session in sessions]
    finally:
        for session in sessions:
            if session.poll() is None:
                session.kill()
                session.wait()
    verdicts = {}
    for written in sorted(kept.glob("*.json")):
        verdicts.update(json.loads(written.read_text())["cells"])
    return outputs, verdicts


def test_every_cell_passes_verification_of_every_endpoint(db_url, second_cluster, every_cell_verified):
    """Values, 404s, malformed input, bad pages and edits, statements, pool: every cell passes,
    and the edits leave both clusters' tables as the seed made them."""
    _, second_url = second_cluster
    checksum = seeding.current_seed(db_url).checksum
    assert seeding.current_seed(second_url).checksum == checksum, "the two clusters hold one seed"
    outputs, verdicts = every_cell_verified
    for stdout, stderr, code in outputs:
        assert code == 0, stdout + stderr
    shown = "".join(stdout for stdout, _, _ in outputs)
    for cell in catalog.manifest().cells():
        row = next(line for line in shown.splitlines() if line.split()[:1] == [cell.name])
        assert " pass " in row + " ", row
        assert "update 0.05" in row, row
        assert verdicts[cell.name]["verdict"] == "pass" and verdicts[cell.name]["ok"], verdicts[cell.name]
    for url in (db_url, second_url):
        assert seeding.table_checksum(url) == checksum, "the verifier left edited rows behind"


def statement_figures(output: str) -> dict[str, str]:
    """cell name -> its statements-per-request text, from the verify table."""
    figures = {}
    for line in output.splitlines():
        words = line.split(None, 2)
        if len(words) == 3 and words[1] == "pass":
            figures[words[0]] = words[2].strip()
    return figures


def test_each_strategy_writes_with_the_statements_its_users_make(every_cell_verified):
    """raw and Core: one UPDATE ... RETURNING; an ORM, baked or not: a load and an update."""
    _, verdicts = every_cell_verified
    edit = {name: found["statements_by_endpoint"]["edit"] for name, found in verdicts.items()}
    for name in ("fastapi/raw", "gin/raw"):
        assert edit[name]["update"] == 1 and "lookup" not in edit[name], edit[name]
    assert edit["fastapi/sa-core"] == {"transaction": 2, "update": 1}
    for name in ("fastapi/gino-orm", "fastapi/gino-baked", "fastapi/sa-orm-nocache", "fastapi/sa-orm",
                 "fastapi/sa-lambda", "gin/gorm"):
        assert edit[name]["lookup"] == 1 and edit[name]["update"] == 1, edit[name]
    assert edit["fastapi/gino-orm"]["pool reset"] == 8, "a GINO edit checks a connection out twice"
    assert edit["fastapi/raw"]["pool reset"] == 4


def test_unknown_names_are_one_line_errors():
    for args in (["verify", "--frameworks", "nosuch"], ["serve", "fastapi", "nosuch"], ["serve", "nosuch", "raw"]):
        result = dbbench(*args)
        assert result.returncode == 2
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert "Traceback" not in result.stderr


def test_serve_runs_a_cell_until_interrupted(db_url):
    port = ports.free_port()
    process = subprocess.Popen(
        [*DBBENCH, "serve", "sanic", "gino-baked", "--port", str(port), "--pool-size", "4"],
        cwd=REPO, env=os.environ.copy(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/users/7", timeout=2)
                break
            except httpx.HTTPError:
                assert process.poll() is None, process.stderr.read().decode()
                assert time.monotonic() < deadline, "serve did not answer"
                time.sleep(0.2)
        assert response.status_code == 200
        assert response.json()["id"] == 7
    finally:
        os.killpg(process.pid, signal.SIGINT)
        process.wait(30)
    assert process.returncode == 130
    assert ports.port_is_free(port), "the cell's server outlived dbbench serve"


def test_multi_worker_servers_open_a_full_pool_in_every_worker(db_url):
    """Servers without a worker manager of their own (aiohttp, Tornado), gunicorn's gthread and granian:
    every worker opens its whole pool at start-up (the verifier counts the connections)."""
    result = dbbench("verify", "--frameworks", "aiohttp,tornado,flask,fastapi-granian", "--variants", "raw",
                     "--workers", "2", "--pool-size", "3")
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_gin_cell_without_go_says_so_and_the_rest_still_list(monkeypatch, capsys):
    from runner import cli

    monkeypatch.setattr(builds, "find_go", lambda: (None, "needs Go 1.25.0 or newer (none found)"))
    assert cli.main(["list"]) == 0
    rows = {tuple(line.split()[:2]): line for line in capsys.readouterr().out.splitlines() if line.strip()}
    assert "no: needs Go 1.25.0" in rows[("gin", "raw")]
    assert " yes: " in rows[("fastapi", "raw")]


def test_each_loading_strategy_sends_the_statements_it_promises(db_url):
    """A feed page: joined one statement, selectin two, lazy one more per distinct author on the
    page (N+1). The verifier holds each to its exact count (the mix test does so for every cell
    and both relationship endpoints); here the counts are also read back."""
    result = dbbench("verify", "--scenario", "feed", "--frameworks", "fastapi", "--variants",
                     "sa-orm-lazy,sa-orm-selectin,sa-orm-joined", check=True, timeout=900)
    figures = statement_figures(result.stdout)

    def lookups(cell: str) -> float:
        return float(figures[cell].split("lookup ")[1].split(",")[0])

    assert lookups("fastapi/sa-orm-joined") == 1 and lookups("fastapi/sa-orm-selectin") == 2
    assert lookups("fastapi/sa-orm-lazy") > 10


def test_a_loading_strategy_is_skipped_where_it_is_its_base_variants_code(db_url):
    result = dbbench("verify", "--scenario", "by-id", "--frameworks", "fastapi", "--variants", "raw,sa-orm-lazy",
                     check=True, timeout=300)
    row = next(line for line in result.stdout.splitlines() if line.startswith(" fastapi/sa-orm-lazy"))
    assert " skipped " in row and "measured on user-posts and feed only" in row


def test_building_an_unknown_stack_is_a_one_line_error():
    result = dbbench("env", "build", "nosuch")
    assert result.returncode != 0 and "unknown stack 'nosuch'" in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_a_verdicts_file_that_cannot_be_written_is_a_one_line_error_before_any_cell_starts(db_url, tmp_path):
    not_a_directory = tmp_path / "a-file"
    not_a_directory.write_text("")
    result = dbbench("verify", "--frameworks", "gin", "--variants", "raw", "--json", str(not_a_directory / "v.json"))
    assert result.returncode != 0 and "--json: cannot write" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "verifying" not in result.stderr


def test_every_stack_lock_holds_its_top_level_pins():
    """`make lock STACK=NAME` compiles NAME.txt from NAME.in: a pin changed in one and not the
    other (a lock edited by hand) fails here."""
    stacks = REPO / "apps" / "stacks"
    locks = sorted(stacks.glob("*.txt"))
    assert {path.stem for path in locks} == {path.stem for path in stacks.glob("*.in")}
    for lock in locks:
        wanted, held = normalized_pins(lock.with_suffix(".in")), normalized_pins(lock)
        assert {name: held.get(name) for name in wanted} == wanted, lock.name
