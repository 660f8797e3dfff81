"""The database stage against a real PostgreSQL: cluster life, seed, URLs, bad input."""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import psutil
import pytest
from conftest import REPO, TEST_USERS, dbbench

from runner.base import ports
from runner.base.errors import DbbenchError
from runner.db import database, seeding

# The seed is a pure function of the user count: this checksum holds on any machine.
CHECKSUM_1000 = "4004f7cd173e9b9205ad8de9bc62d83e"
POSTS_CHECKSUM_1000 = "55013b20b252d9b3fe2da18b21fd0bcb"  # 9,458 posts


def one_line_error(result) -> str:
    """Bad input: non-zero exit, exactly one line on stderr, no traceback."""
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert lines[0].startswith("dbbench: error:"), lines[0]
    return lines[0]


def test_up_prints_url_last_and_reuses_the_cluster(db_url):
    assert db_url.startswith("postgresql://dbbench@127.0.0.1:")
    again = dbbench("db", "up", "--users", str(TEST_USERS), check=True)
    assert again.stdout.strip().splitlines()[-1] == db_url
    assert "already seeded" in again.stderr
    with database.connect(db_url) as conn:
        assert conn.execute("SELECT count(*) FROM users").fetchone()[0] == TEST_USERS
        settings = {name: conn.execute("SELECT current_setting(%s)", (name,)).fetchone()[0]
                    for name in ("max_connections", "shared_preload_libraries", "pg_stat_statements.track")}
    assert int(settings["max_connections"]) >= 500
    assert settings["shared_preload_libraries"] == "pg_stat_statements"
    assert settings["pg_stat_statements.track"] == "all"


def test_status_reports_the_running_cluster(db_url):
    status = dbbench("db", "status", check=True).stdout
    assert "running: True" in status
    assert f"{TEST_USERS} users" in status


@pytest.mark.skipif(os.geteuid() != 0, reason="only meaningful as root")
def test_as_root_the_server_runs_as_postgres(db_url, state_home):
    cluster = database.EmbeddedCluster(state_home)
    owner = psutil.Process(cluster.postmaster_pid()).username()
    assert owner == "postgres"


def test_seed_is_deterministic(db_url):
    first = dbbench("db", "seed", "--users", "1000", check=True).stdout.strip().splitlines()
    second = dbbench("db", "seed", "--users", "1000", check=True).stdout.strip().splitlines()
    assert first == second == [f"posts 9458 checksum {POSTS_CHECKSUM_1000}", f"checksum {CHECKSUM_1000}"]
    assert seeding.table_checksum(db_url) == CHECKSUM_1000
    with database.connect(db_url) as conn:
        count, long_bios, active, distinct = conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE length(bio) >= 200), avg(is_active::int), "
            "count(DISTINCT username) FROM users"
        ).fetchone()
        seconds = conn.execute("SELECT count(*) FROM users WHERE extract(microseconds FROM created_at) % 1000000 <> 0"
                               ).fetchone()[0]
    assert count == distinct == 1000
    assert long_bios == 1000
    assert 0.8 < active < 1.0
    assert seconds == 0
    check_posts(db_url, users=1000)
    dbbench("db", "seed", "--users", str(TEST_USERS), check=True)


def check_posts(db_url: str, users: int) -> None:
    """The posts are what the contract and the scenarios rely on: skewed counts per user (many
    with none, a few with hundreds), ids in created_at order with authors interleaved, every
    post after its author signed up, keys and the index in place."""
    with database.connect(db_url) as conn:
        none, most, median, mean = conn.execute(
            "SELECT count(*) FILTER (WHERE n = 0), max(n), percentile_cont(0.5) WITHIN GROUP (ORDER BY n), avg(n) "
            "FROM (SELECT u.id, count(p.id) AS n FROM users AS u LEFT JOIN posts AS p ON p.user_id = u.id "
            "GROUP BY u.id) AS counts").fetchone()
        out_of_order, same_author = conn.execute(
            "SELECT count(*) FILTER (WHERE b.created_at < a.created_at), avg((a.user_id = b.user_id)::int) "
            "FROM posts AS a JOIN posts AS b ON b.id = a.id + 1").fetchone()
        before_author = conn.execute(
            "SELECT count(*) FROM posts AS p JOIN users AS u ON u.id = p.user_id "
            "WHERE p.created_at < date_trunc('second', u.created_at)").fetchone()[0]
        indexes = {row[0] for row in conn.execute("SELECT indexdef FROM pg_indexes WHERE tablename = 'posts'")}
        foreign = conn.execute("SELECT count(*) FROM pg_constraint WHERE conrelid = 'posts'::regclass "
                               "AND contype = 'f'").fetchone()[0]
    assert 0.2 * users < none < 0.35 * users
    assert most >= 100 and median <= 3 and 7 < mean < 13
    assert out_of_order == 0 and before_author == 0
    assert same_author < 0.05
    assert "CREATE INDEX posts_user_latest ON public.posts USING btree (user_id, created_at DESC, id DESC)" in indexes
    assert "CREATE UNIQUE INDEX posts_pkey ON public.posts USING btree (id)" in indexes
    assert foreign == 1


def test_the_sessions_seed_has_posts(db_url):
    seed = seeding.current_seed(db_url)
    assert seed.users == TEST_USERS and seed.posts > 10 * TEST_USERS * 0.7
    check_posts(db_url, TEST_USERS)


def test_reseed_happens_only_when_parameters_change(db_url):
    before = seeding.current_seed(db_url)
    with database.connect(db_url) as conn:
        seeded_at = conn.execute("SELECT seeded_at FROM dbbench_seed").fetchone()[0]
    assert seeding.seed(db_url, TEST_USERS).seeded is False
    with database.connect(db_url) as conn:
        assert conn.execute("SELECT seeded_at FROM dbbench_seed").fetchone()[0] == seeded_at
    assert seeding.current_seed(db_url) == before


def test_an_interrupted_seed_leaves_the_previous_one_whole(db_url, tmp_path, monkeypatch):
    before = seeding.current_seed(db_url)
    broken = tmp_path / "seeds"
    broken.mkdir()
    sql = (REPO / "seeds" / "users.sql").read_text().replace("SELECT\n    g,", "SELECT\n    g / (g <> 700)::int,")
    assert "g <> 700" in sql
    (broken / "users.sql").write_text(sql)
    (broken / "posts.sql").write_text((REPO / "seeds" / "posts.sql").read_text())
    monkeypatch.setattr(database.paths, "SEEDS_DIR", broken)
    with pytest.raises(DbbenchError, match="division by zero"):
        seeding.seed(db_url, 1500)
    monkeypatch.undo()
    assert seeding.current_seed(db_url) == before
    with database.connect(db_url) as conn:
        assert conn.execute("SELECT count(*) FROM users").fetchone()[0] == TEST_USERS


def test_external_url_is_used_as_is_and_its_password_never_shown(db_url):
    port = db_url.rsplit(":", 1)[1].split("/")[0]
    secret_url = f"postgresql://dbbench:s3cr3t-pw@127.0.0.1:{port}/dbbench"
    result = dbbench("db", "up", "--users", str(TEST_USERS), "--db-url", secret_url, check=True)
    assert "s3cr3t-pw" not in result.stdout + result.stderr
    assert result.stdout.strip().splitlines()[-1] == f"postgresql://dbbench:***@127.0.0.1:{port}/dbbench"
    env_result = dbbench("db", "seed", "--users", str(TEST_USERS), env={"DATABASE_URL": secret_url}, check=True)
    assert "s3cr3t-pw" not in env_result.stdout + env_result.stderr


def test_mask_url():
    assert database.mask_url("postgresql://u:pw@h:5432/db") == "postgresql://u:***@h:5432/db"
    assert database.mask_url("postgresql://u@h/db?password=pw&sslmode=off") == \
        "postgresql://u@h/db?password=***&sslmode=off"
    assert database.mask_url("postgresql://h/db") == "postgresql://h/db"


@pytest.mark.parametrize("users", ["0", "-5", "abc", "1.5", "100000000000"])
def test_bad_user_counts_are_one_line_errors(users):
    line = one_line_error(dbbench("db", "up", "--users", users))
    assert "--users" in line


@pytest.mark.parametrize("url, expected", [
    ("postgresql://dbbench@127.0.0.1:1/dbbench", "cannot connect"),
    ("http://example.invalid/db", "not a PostgreSQL URL"),
    ("postgresql://dbbench:hunter2@127.0.0.1:1/dbbench", "cannot connect"),
])
def test_bad_database_urls_are_one_line_errors(url, expected):
    line = one_line_error(dbbench("db", "up", "--db-url", url))
    assert expected in line
    assert "hunter2" not in line


def test_wrong_database_name_is_a_one_line_error(db_url):
    line = one_line_error(dbbench("db", "up", "--db-url", db_url.rsplit("/", 1)[0] + "/no_such_db"))
    assert "no_such_db" in line


def test_missing_server_binaries_are_named(tmp_path):
    result = dbbench("db", "up", env={"DBBENCH_HOME": str(tmp_path), "DBBENCH_PG_BIN": str(tmp_path)})
    assert "server binaries not found" in one_line_error(result)


def test_a_port_in_use_is_a_one_line_error(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = dbbench("db", "up", "--port", str(port), env={"DBBENCH_HOME": str(tmp_path / "home")})
    assert f"port {port}" in one_line_error(result)
    dbbench("db", "down", env={"DBBENCH_HOME": str(tmp_path / "home")})


def test_a_crashed_cluster_and_a_half_made_data_dir_recover(tmp_path):
    env = {"DBBENCH_HOME": str(tmp_path / "home")}
    dbbench("db", "up", "--users", "50", env=env, check=True)
    cluster = database.EmbeddedCluster(tmp_path / "home")
    postmaster = psutil.Process(cluster.postmaster_pid())
    children = postmaster.children()
    postmaster.send_signal(signal.SIGKILL)
    psutil.wait_procs([postmaster, *children], timeout=30)
    again = dbbench("db", "up", "--users", "50", env=env, check=True).stdout.strip().splitlines()[-1]
    assert again.startswith("postgresql://dbbench@127.0.0.1:")
    assert dbbench("db", "down", env=env, check=True).stdout.strip() == "stopped"
    # An initdb that never finished: a data dir without PG_VERSION is made again.
    (cluster.data_dir / "PG_VERSION").unlink()
    assert dbbench("db", "up", "--users", "50", env=env, check=True).returncode == 0
    assert dbbench("db", "down", env=env, check=True).stdout.strip() == "stopped"


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("runuser") is None, reason="needs root to switch user")
def test_a_normal_user_runs_the_cluster_directly():
    as_nobody = ["runuser", "-u", "nobody", "--"]
    if subprocess.run([*as_nobody, "test", "-r", str(REPO / "runner" / "cli.py")]).returncode != 0:
        pytest.skip("the checkout is not readable by other users")
    home = Path(tempfile.mkdtemp(prefix="dbbench-nobody-"))
    nobody = pwd.getpwnam("nobody")
    os.chmod(home, 0o755)  # noqa: S103 - nobody must traverse it; it holds no secret
    os.chown(home, nobody.pw_uid, nobody.pw_gid)
    env = {**os.environ, "DBBENCH_HOME": str(home), "HOME": str(home)}
    python = sys.executable
    if subprocess.run([*as_nobody, python, "-c", "pass"], capture_output=True).returncode != 0:
        # The environment's interpreter lives where nobody may not reach (pyenv under /root):
        # use the system's Python 3.11 with the same installed packages.
        python = "/usr/bin/python3"
        site = next(Path(sys.prefix).glob("lib/python3*/site-packages"))
        env["PYTHONPATH"] = f"{site}:{REPO}"
        if subprocess.run([*as_nobody, python, "-c", "import psycopg, rich"], env=env,
                          capture_output=True).returncode != 0:
            pytest.skip("no interpreter with the runner's packages that another user can run")
    command = [*as_nobody, python, "-m", "runner"]
    try:
        up = subprocess.run([*command, "db", "up", "--users", "20"], cwd=REPO, env=env, capture_output=True,
                            text=True, timeout=300)
        assert up.returncode == 0, up.stderr
        assert up.stdout.strip().splitlines()[-1].startswith("postgresql://dbbench@127.0.0.1:")
        pid = database.EmbeddedCluster(home).postmaster_pid()
        assert psutil.Process(pid).username() == "nobody"
    finally:
        subprocess.run([*command, "db", "down"], cwd=REPO, env=env, capture_output=True, timeout=120)
        shutil.rmtree(home, ignore_errors=True)


def test_a_listeners_port_is_never_one_an_outgoing_connection_could_take_first():
    """bind(0) picks from the ephemeral range, where a pool's outgoing connections get their
    source ports: a cell given such a port lost it to one before it could listen."""
    low, high = ports.ephemeral_range()
    chosen = {ports.free_port() for _ in range(50)}
    assert all(not low <= port <= high for port in chosen) and len(chosen) > 1
