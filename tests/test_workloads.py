"""The workloads beyond by-id: the shared input rules, the scenarios, the mix's expected
404s, and the seeded rows put back after a run that writes.

No test here asserts a throughput figure: the machine is shared and noisy.
"""

from __future__ import annotations

import datetime
import json
import os
import subprocess

import pytest
from conftest import REPO, dbbench

from apps import answers
from runner.base import scenarios
from runner.cells import builds
from runner.db import database, seeding
from runner.measure import wrk
from runner.report import results
from runner.verify.bad_inputs import BAD_EDIT_BODIES, BAD_FEED_QUERIES, BAD_PAGE_QUERIES, QUERY_COUNTS


@pytest.mark.parametrize("query", BAD_PAGE_QUERIES)
def test_every_bad_page_query_is_refused_by_the_shared_rules(query):
    with pytest.raises(answers.Rejected) as refused:
        answers.parse_page(query)
    assert refused.value.status == 400


def test_good_page_queries_and_their_defaults():
    assert answers.parse_page("") == (0, 20)
    assert answers.parse_page("after=5&limit=1") == (5, 1)
    assert answers.parse_page("limit=100&after=2147483647") == (2147483647, 100)
    assert answers.parse_page("after=3&unknown=x") == (3, 20)


@pytest.mark.parametrize("query", BAD_FEED_QUERIES)
def test_every_bad_feed_query_is_refused_by_the_shared_rules(query):
    with pytest.raises(answers.Rejected) as refused:
        answers.parse_feed(query)
    assert refused.value.status == 400


def test_good_feed_queries_start_at_the_newest_post_by_default():
    assert answers.parse_feed("") == (2**31 - 1, 20)
    assert answers.parse_feed("before=5&limit=1") == (5, 1)
    assert answers.parse_feed("before=0") == (0, 20)


@pytest.mark.parametrize("query, count", QUERY_COUNTS.items())
def test_queries_clamps_n_by_techempowers_rules(query, count):
    assert answers.parse_queries(query) == count
    assert answers.parse_queries("n=" + "9" * 5000) == 500, "never int() on thousands of digits"


@pytest.mark.parametrize("content_type, body", BAD_EDIT_BODIES)
def test_every_bad_edit_body_is_refused_with_a_4xx(content_type, body):
    with pytest.raises(answers.Rejected) as refused:
        answers.parse_bio(content_type, body)
    assert 400 <= refused.value.status < 500


def test_a_good_bio_is_taken_as_sent():
    bio = "Zoë \"quoted\" " + "é" * 900
    assert answers.parse_bio("application/json; charset=utf-8", json.dumps({"bio": bio}).encode()) == bio


def test_page_body_says_where_to_go_on_and_where_it_ends():
    users = [{"id": n, "created_at": datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC)} for n in (4, 5)]
    assert answers.page_body(users, 2)["next_after"] == 5
    assert answers.page_body(users, 3)["next_after"] is None


def test_every_scenario_file_loads_and_the_mix_adds_up():
    names = scenarios.scenario_names()
    assert {"by-id", "by-username", "page", "edit", "mix"} <= set(names)
    for name in names:
        scenario = scenarios.load_scenario(name)
        assert scenario.script.exists()
    mix = scenarios.load_scenario("mix")
    assert sum(mix.weights.values()) == 100 and mix.writes
    assert mix.endpoint_weights["by-id"] == 42.5 and mix.endpoint_weights["by-username"] == 12.5
    assert mix.endpoint_weights["feed"] == 20 and mix.endpoint_weights["user-posts"] == 15
    assert "DBBENCH_WEIGHTS" in mix.lua_environment()


@pytest.mark.parametrize("extra, message", [
    ('endpoints = ["by-id", "nope"]\n', "unknown endpoint"),
    ('endpoints = ["edit"]\n', "writes = true"),
    ('endpoints = ["by-id"]\n[weights]\nby-id = 60\n', "add up to 100"),
    ('endpoints = ["by-id"]\n[weights]\nby-id = 90\nteleport = 10\n', "unknown request kind"),
])
def test_a_scenario_file_with_a_mistake_is_a_clear_error(tmp_path, monkeypatch, extra, message):
    (tmp_path / "x.lua").write_text("")
    (tmp_path / "bad.toml").write_text(
        'name = "bad"\ndescription = "d"\nscript = "x.lua"\nconnections = 8\nthreads = 1\nslice_s = 1\n'
        'warmup_s = 1\nprimer_s = 0\n' + extra)
    monkeypatch.setattr(scenarios.paths, "SCENARIOS_DIR", tmp_path)
    with pytest.raises(scenarios.DbbenchError, match=message):
        scenarios.load_scenario("bad")


def test_a_mix_counts_404s_for_unknown_users_as_answers_and_the_rest_as_errors():
    mix = scenarios.load_scenario("mix")
    report = {"errors": {"status": 40}, "sent": {"missing": 30}, "statuses": {"200": 900, "404": 30, "500": 10}}
    assert wrk.unexpected_statuses(report, mix) == 10
    report = {"errors": {"status": 45}, "sent": {"missing": 30}, "statuses": {"200": 900, "404": 45}}
    assert wrk.unexpected_statuses(report, mix) == 15, "404s beyond the unknown-user requests are errors"
    assert wrk.unexpected_statuses({"errors": {"status": 7}}, scenarios.load_scenario("by-id")) == 7


def test_restore_puts_back_only_what_changed(db_url):
    seeded = seeding.current_seed(db_url)
    with database.connect(db_url) as conn:
        conn.execute("UPDATE users SET bio = 'changed', is_active = NOT is_active WHERE id IN (3, 5, 8)")
        # A user with no posts: the posts' foreign key keeps the others from being deleted.
        conn.execute("DELETE FROM users WHERE id = (SELECT min(u.id) FROM users AS u "
                     "WHERE NOT EXISTS (SELECT 1 FROM posts WHERE user_id = u.id))")
    assert seeding.table_checksum(db_url) != seeded.checksum
    restored = seeding.restore_seeded(db_url)
    assert restored.rows == 4 and restored.matches_seed
    assert seeding.table_checksum(db_url) == seeded.checksum
    assert seeding.restore_seeded(db_url).rows == 0


def test_a_write_scenario_puts_the_seed_back_and_records_the_seed_checksum(db_url, tmp_path):
    """The edit scenario changes bios under load; afterwards the table is the seed again,
    and results.json carries the seed's checksum, which compare relies on."""
    seeded = seeding.current_seed(db_url)
    result = dbbench("run", "--pool-size", "rule",
                     "--scenario", "edit", "--frameworks", "fastapi,gin", "--variants", "raw",
                     "--slice", "1", "--rounds", "2", "--connections", "8", "--out", str(tmp_path), timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    document = results.load(tmp_path / "latest" / "results.json")
    assert document["metadata"]["dataset"]["checksum"] == seeded.checksum
    restored = document["metadata"]["run"]["restored"]
    assert restored[-1]["when"] == "after group 1" and restored[-1]["rows"] > 0
    assert all(entry["checksum"] == seeded.checksum for entry in restored)
    assert seeding.table_checksum(db_url) == seeded.checksum
    assert all(cell["status"] == "ok" and cell["statements_per_request"]["update"] == 1.0
               for cell in document["cells"]), [cell["reason"] for cell in document["cells"]]
    assert "## ORM tax (edit)" not in result.stdout  # raw only: no ORM to compare
    assert "It writes: the seeded users were put back" in result.stdout


def test_the_mix_runs_and_reports_what_it_sent(db_url, tmp_path):
    result = dbbench("run", "--pool-size", "rule", "--scenario", "mix", "--frameworks", "gin", "--variants", "raw,gorm",
                     "--slice", "1", "--rounds", "2", "--connections", "8", "--out", str(tmp_path), timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    document = results.load(tmp_path / "latest" / "results.json")
    for cell in document["cells"]:
        assert cell["status"] == "ok", cell["reason"]
        for piece in cell["slices"]:
            assert set(piece["sent"]) == {"by-id", "by-username", "page", "edit", "missing", "user-posts", "feed"}
            assert piece["non_2xx"] == 0 and piece["statuses"].get("404", 0) > 0
    assert "## The mix" in result.stdout and "Latency per request kind is not shown" in result.stdout
    assert "## ORM tax (mix)" in result.stdout


def test_the_gin_input_rules_pass_their_go_tests():
    go, detail = builds.find_go()
    assert go is not None, detail
    result = subprocess.run([go, "test", "./..."], cwd=REPO / "apps" / "gin", capture_output=True, text=True,
                            timeout=600, env={**os.environ, **builds.GO_BUILD_ENV})
    assert result.returncode == 0, result.stdout + result.stderr
